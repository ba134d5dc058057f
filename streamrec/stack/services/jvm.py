"""JVM flags every server of the stack gets, so its crash files land in the data dir.

Without them a JVM writes ``hs_err_pid<pid>.log`` (and, when a Flight Recorder recording
runs, ``hs_err_pid<pid>.jfr``) into its working directory, which is wherever ``streamrec
stack up`` was typed: usually the repository.
"""

from __future__ import annotations

from pathlib import Path

from streamrec.stack.config import StackConfig


def crash_options(config: StackConfig, jvm: str) -> list[str]:
    """``-XX`` flags for the JVM called ``jvm`` (a file-name stem, e.g. ``kafka``)."""
    return [error_file_option(config), *heap_dump_options(config, jvm)]


def error_file_option(config: StackConfig) -> str:
    """``hs_err_pid<pid>.log`` in the stack's log dir (the pid keeps JVMs apart)."""
    return f"-XX:ErrorFile={config.log_dir / 'hs_err_pid%p.log'}"


def heap_dump_options(config: StackConfig, jvm: str) -> list[str]:
    """A heap dump on OutOfMemoryError, to ``<log dir>/<jvm>.hprof``.

    A fixed name per JVM rather than one per pid: the JVM refuses to overwrite an existing
    dump, so an OutOfMemoryError crash loop of a supervised server keeps the first dump
    (the telling one) instead of filling the disk with one per restart. Move the file away
    to capture the next one.
    """
    return ["-XX:+HeapDumpOnOutOfMemoryError", f"-XX:HeapDumpPath={heap_dump_path(config, jvm)}"]


def heap_dump_path(config: StackConfig, jvm: str) -> Path:
    return config.log_dir / f"{jvm}.hprof"


def in_directory(directory: Path, command: list[str]) -> list[str]:
    """``command`` started from ``directory``.

    The JVM writes a Flight Recorder emergency dump (``hs_err_pid<pid>.jfr``) into its
    working directory, and Java 17 has no flag to move it. ``exec`` keeps the pid the same,
    so the supervisor and pid files still see the JVM itself.
    """
    return ["bash", "-c", 'cd "$0" && exec "$@"', str(directory), *command]
