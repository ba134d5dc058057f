"""The TaskManager supervisor: restarts what dies, stops when told, passes the signal on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from streamrec.stack import process
from tests.polling import wait_for

SUPERVISE = [sys.executable, "-m", "streamrec.stack.supervise"]


def child_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return None
    return pid if process.live_stat(pid) is not None else None


def test_a_killed_child_is_started_again_and_sigterm_stops_both(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    supervisor = subprocess.Popen(
        [*SUPERVISE, "--pid-file", str(pid_file), "--", "sleep", "600"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = wait_for(lambda: child_pid(pid_file), 20, "the first child", 0.05)
        os.kill(first, signal.SIGKILL)
        second = wait_for(
            lambda: (pid := child_pid(pid_file)) not in (None, first) and pid,
            20,
            "a restarted child",
            0.05,
        )
        assert second != first
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=20)
        assert process.live_stat(second) is None, "the child outlived its supervisor"
        assert f"pid {first} exited with -9" in supervisor.stderr.read()
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def test_without_a_command_it_says_what_to_give() -> None:
    done = subprocess.run([*SUPERVISE], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "give the command to supervise after --" in done.stderr
