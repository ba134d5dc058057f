"""Process ownership: only what we spawned (stamped with our data dir) is ours."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from streamrec.stack import process


def test_spawned_process_is_ours_until_stopped(tmp_path: Path) -> None:
    proc = process.spawn(["sleep", "60"], owner=str(tmp_path), log_file=tmp_path / "sleep.log")
    record = process.ProcessRecord(
        "demo", proc.pid, time.time(), str(tmp_path), str(tmp_path / "sleep.log")
    )
    record.save(tmp_path / "demo.json")
    assert process.ProcessRecord.load(tmp_path / "demo.json") == record
    assert process.is_ours(record)
    assert process.owned_pids(str(tmp_path)) == [proc.pid]
    assert process.resident_bytes([proc.pid]) > 0

    forced = process.stop_group(proc.pid, grace_seconds=5)
    assert not forced
    assert not process.is_ours(record)
    assert process.owned_pids(str(tmp_path)) == []


def test_a_process_stays_ours_while_it_execs(tmp_path: Path) -> None:
    """Flink's scripts exec three times before the JVM runs; mid-exec, /proc/<pid>/environ
    reads empty, and a start-up poll that met that window once failed ``stack up``."""
    script = tmp_path / "exec_loop.sh"
    script.write_text('n=${1:-0}; [ "$n" -lt 400 ] && exec bash "$0" $((n+1)); sleep 0.5\n')
    proc = process.spawn(["bash", str(script)], owner=str(tmp_path), log_file=tmp_path / "exec.log")
    record = process.ProcessRecord("demo", proc.pid, time.time(), str(tmp_path), "")
    polls = 0
    try:
        while proc.poll() is None:
            alive_before = proc.poll() is None
            ours = process.is_ours(record)
            if proc.poll() is None and alive_before:
                assert ours, f"poll {polls}: a live, execing process was not recognised"
            polls += 1
    finally:
        process.stop_group(proc.pid, grace_seconds=2)
    assert polls > 100


def test_a_process_of_someone_else_is_not_ours(tmp_path: Path) -> None:
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        record = process.ProcessRecord("demo", stranger.pid, time.time(), str(tmp_path), "")
        assert not process.is_ours(record)
    finally:
        stranger.kill()
        stranger.wait()


def test_stop_group_forces_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    stubborn = process.spawn(
        ["bash", "-c", "trap '' TERM; echo ready; sleep 60 & wait"],
        owner=str(tmp_path),
        log_file=tmp_path / "stubborn.log",
    )
    deadline = time.monotonic() + 10
    while "ready" not in (tmp_path / "stubborn.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.stop_group(stubborn.pid, grace_seconds=0.5)
    assert process.group_members(stubborn.pid) == []


def test_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert process.tail(log, 3).splitlines() == ["line 97", "line 98", "line 99"]
    assert "no log" in process.tail(tmp_path / "missing.log")
