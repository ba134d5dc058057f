"""The launcher itself: idempotent up, clean down, and clear start-up errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from streamrec.stack import process
from streamrec.stack.config import StackConfig, default_cache_dir
from streamrec.stack.launcher import OPTIONAL_SERVICES, Stack
from tests.integration.conftest import free_port

CLI = [sys.executable, "-m", "streamrec.cli"]


def test_up_twice_is_harmless(stack: Stack) -> None:
    before = {s.name: s.pids for s in stack.status()}
    # Every default service; the optional Prometheus server is off unless started.
    assert all(s.state == "up" or s.name in OPTIONAL_SERVICES for s in stack.status())
    reports = stack.up()
    assert all(r.already_running for r in reports)
    after = {s.name: s.pids for s in stack.status()}
    # Nothing restarted: every process is still there. A service's pids include the
    # children of its group (a TaskManager's Python workers come and go with jobs).
    assert after.keys() == before.keys()
    assert all(set(before[name]) <= set(after[name]) for name in before), (before, after)


def test_down_stops_only_our_processes(tmp_path: Path) -> None:
    config = StackConfig(
        data_dir=tmp_path / "mlflow-only", cache_dir=default_cache_dir(), mlflow_port=free_port()
    )
    bystander = subprocess.Popen(["sleep", "300"])  # not ours: must survive
    own = Stack(config, echo=lambda _: None)
    try:
        first = own.up(["mlflow"])
        second = own.up(["mlflow"])
        assert not first[0].already_running and second[0].already_running
        assert first[0].pids == second[0].pids
        assert process.owned_pids(str(config.data_dir)), "mlflow should be running"
        outcome = own.down()
        assert outcome["mlflow"].startswith("stopped pid")
        assert process.owned_pids(str(config.data_dir)) == []
        assert bystander.poll() is None
        assert [s.state for s in own.status()] == ["down"] * 4 + ["off"]
    finally:
        own.down()
        bystander.kill()
        bystander.wait()


def run_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_taken_port_gives_one_line_error_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = run_cli(
            [
                "stack",
                "up",
                "--data-dir",
                str(tmp_path),
                "--kafka-port",
                str(port),
                "--mlflow-port",
                str(free_port()),
                "kafka",
                "mlflow",
            ]
        )
    assert result.returncode == 1
    assert f"port {port} (Kafka broker) is already in use" in result.stderr
    assert "--kafka-port" in result.stderr and "Traceback" not in result.stderr
    assert process.owned_pids(str(tmp_path.resolve())) == []


def test_missing_java_names_the_fix(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv only: no java on it
    result = run_cli(["stack", "up", "--data-dir", str(tmp_path), "mlflow"], env=env)
    assert result.returncode == 1
    assert "Java not found" in result.stderr and "JAVA_HOME" in result.stderr
    assert "Traceback" not in result.stderr
