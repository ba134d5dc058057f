"""Start, identify and stop the server processes the launcher owns.

A pid file alone is not proof of ownership (pids are reused), so a process
counts as ours only if its environment carries ``STREAMREC_STACK_DIR`` equal
to our data directory (set at spawn, inherited through ``exec``).
Each server gets its own session (process group) so that ``down`` also reaps
the children it spawned, such as Flink's Python workers or uvicorn workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcessRecord:
    """What ``up`` wrote down about a process it started."""

    service: str
    pid: int
    started_at: float
    marker: str
    """The data dir: the value of ``STREAMREC_STACK_DIR`` in the process's environment."""
    log_file: str

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.__dict__))

    @classmethod
    def load(cls, path: Path) -> ProcessRecord | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


OWNER_ENV = "STREAMREC_STACK_DIR"


def environ_value(pid: int, name: str) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = f"{name}=".encode()
    for entry in raw.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def live_stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (state, ppid, pgrp, ...);
    None if the process is gone or a zombie (a zombie holds nothing and is not running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields_after_comm = stat.rsplit(")", 1)[1].split()
    return None if fields_after_comm[0] == "Z" else fields_after_comm


def all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


EXEC_REREADS = 5
EXEC_REREAD_GAP_S = 0.02


def owned_by(pid: int, marker: str) -> bool:
    """Alive, not a zombie, and stamped with ``marker`` (the data dir) in its environment.

    While a process is inside ``execve`` (bash -> jobmanager.sh -> java is three of them),
    ``/proc/<pid>/environ`` reads empty for a moment: about 2% of reads of a process that
    execs in a loop, measured. A live process is read again before it counts as not ours;
    once, a start-up poll that fell in that window failed ``stack up`` and left the JVM
    running unrecorded.
    """
    for attempt in range(EXEC_REREADS):
        if live_stat(pid) is None:
            return False
        if environ_value(pid, OWNER_ENV) == marker:
            return True
        if attempt + 1 < EXEC_REREADS:
            time.sleep(EXEC_REREAD_GAP_S)
    return False


def is_ours(record: ProcessRecord) -> bool:
    """Still the process we started."""
    return owned_by(record.pid, record.marker)


def group_members(pgid: int) -> list[int]:
    """Pids whose process group is ``pgid`` (the server and its children)."""
    members = []
    for pid in all_pids():
        fields = live_stat(pid)
        if fields is not None and int(fields[2]) == pgid:
            members.append(pid)
    return members


def resident_bytes(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        try:
            rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += rss_pages * PAGE_SIZE
    return total


def spawn(
    args: Sequence[str],
    *,
    owner: str,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a server detached from our terminal, stdout/stderr into ``log_file``.

    ``owner`` (the data dir) is stamped into the environment to prove ownership later.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(env if env is not None else os.environ)
    full_env[OWNER_ENV] = owner
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
    # Under load /proc/<pid>/environ was once seen without the marker right after Popen
    # returned (a test failed on it); wait until ownership is provable, as callers assume.
    deadline = time.monotonic() + 5.0
    while environ_value(proc.pid, OWNER_ENV) != owner and proc.poll() is None:
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    return proc


def stop_group(pid: int, *, grace_seconds: float = 30.0) -> bool:
    """SIGTERM the process group led by ``pid``; SIGKILL what is left after the grace.

    Returns True if a forced kill was needed.
    """
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        _reap(pid)
        if not group_members(pid):
            return False
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    for _ in range(50):
        _reap(pid)
        if not group_members(pid):
            break
        time.sleep(0.1)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status if the server is our own child (avoids zombies)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def owned_pids(marker: str) -> list[int]:
    """Every live process stamped with our data dir, including strays that left the group.

    One read per pid, without :func:`owned_by`'s re-reads: kernel threads' environments are
    always empty and would each cost the wait. A scan that meets one of ours mid-exec
    misses it, so a leftover check scans after ``down``, when nothing of ours execs."""
    return [
        pid
        for pid in all_pids()
        if live_stat(pid) is not None and environ_value(pid, OWNER_ENV) == marker
    ]
