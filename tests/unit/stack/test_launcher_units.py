"""Launcher logic against tiny fake services (real processes, no servers)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from streamrec.stack import launcher as launcher_module
from streamrec.stack import process, toolchain
from streamrec.stack.config import StackConfig
from streamrec.stack.errors import MissingToolError, ServiceStartError
from streamrec.stack.launcher import Stack
from streamrec.stack.services.base import PortSpec, ProcessSpec, Service


class CrashingService(Service):
    """Prints a reason and exits at once, like a server with a bad config."""

    name = "kafka"
    process_names = ("kafka",)

    def ports(self) -> list[PortSpec]:
        return []

    def processes(self) -> list[ProcessSpec]:
        return [
            ProcessSpec(
                name="kafka",
                args=[
                    sys.executable,
                    "-c",
                    "print('FATAL bad listener config'); raise SystemExit(3)",
                ],
                log_file=self.config.log_dir / "kafka" / "out.log",
            )
        ]

    def log_files(self) -> list[Path]:
        return [self.config.log_dir / "kafka" / "out.log"]

    def is_healthy(self) -> bool:
        return False

    def address(self) -> str:
        return "nowhere"


class SlowService(CrashingService):
    """Runs but never answers: the start-up timeout must stop it."""

    startup_timeout_s = 1.5

    def processes(self) -> list[ProcessSpec]:
        return [
            ProcessSpec(
                name="kafka",
                args=[
                    sys.executable,
                    "-c",
                    "print('still booting', flush=True); import time; time.sleep(60)",
                ],
                log_file=self.config.log_dir / "kafka" / "out.log",
            )
        ]


def stack_with(
    service_type: type[Service], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Stack:
    monkeypatch.setitem(launcher_module.SERVICE_TYPES, "kafka", service_type)
    return Stack(StackConfig(data_dir=tmp_path, cache_dir=tmp_path / "cache"), echo=lambda _: None)


def test_a_crash_at_start_reports_the_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = stack_with(CrashingService, tmp_path, monkeypatch)
    with pytest.raises(ServiceStartError) as caught:
        stack.up(["kafka"])
    message = str(caught.value)
    assert "exited during start-up" in message and "FATAL bad listener config" in message


def test_a_service_that_never_answers_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = stack_with(SlowService, tmp_path, monkeypatch)
    with pytest.raises(ServiceStartError, match="not healthy after 2s"):
        stack.up(["kafka"])
    assert process.owned_pids(str(tmp_path)) == []


def test_unknown_service_is_refused(tmp_path: Path) -> None:
    stack = Stack(StackConfig(data_dir=tmp_path, cache_dir=tmp_path))
    with pytest.raises(launcher_module.StackError, match="unknown service"):
        stack.up(["zookeeper"])


def test_old_java_is_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolchain, "java_binary", lambda: "/opt/jdk11/bin/java")
    monkeypatch.setattr(toolchain, "java_major_version", lambda _java: 11)
    with pytest.raises(MissingToolError, match="Java 17\\+ is required"):
        toolchain.require_java()
