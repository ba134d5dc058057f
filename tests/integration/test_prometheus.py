"""The optional Prometheus server: started by name, scraping Flink, loopback only."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests

from streamrec.stack import process
from streamrec.stack.config import HOST
from streamrec.stack.launcher import Stack
from tests.integration.job_harness import wait_for


@pytest.fixture
def prometheus(stack: Stack) -> Iterator[str]:
    [report] = stack.up(["prometheus"])
    try:
        yield f"http://{HOST}:{stack.config.prometheus_port}"
    finally:
        stack.down(["prometheus"])
        alive = [pid for pid in report.pids if process.live_stat(pid) is not None]
        assert alive == [], f"prometheus left running: {alive}"


def query(url: str, promql: str) -> list[dict]:
    response = requests.get(f"{url}/api/v1/query", params={"query": promql}, timeout=10)
    response.raise_for_status()
    return response.json()["data"]["result"]


def test_prometheus_scrapes_both_flink_processes_on_loopback(stack: Stack, prometheus: str) -> None:
    assert [s.state for s in stack.status(["prometheus"])] == ["up"]

    def both_up() -> bool:
        results = query(prometheus, 'up{job="flink"}')
        return len(results) == 2 and all(r["value"][1] == "1" for r in results)

    wait_for(both_up, 60, "the JobManager and TaskManager targets up")
    # A metric of each process, through the server (what the README's queries read).
    wait_for(lambda: bool(query(prometheus, "flink_jobmanager_numRegisteredTaskManagers")),
             30, "a JobManager metric")  # fmt: skip
    [registered] = query(prometheus, "flink_jobmanager_numRegisteredTaskManagers")
    assert registered["value"][1] == "1"
    assert query(prometheus, "flink_taskmanager_Status_JVM_Memory_Heap_Used")

    flags = requests.get(f"{prometheus}/api/v1/status/flags", timeout=10).json()["data"]
    assert flags["web.listen-address"] == f"{HOST}:{stack.config.prometheus_port}"
    # Not reachable on another address of this machine.
    other = socket.gethostbyname(socket.gethostname())
    if other != HOST:
        with socket.socket() as probe, pytest.raises(OSError):
            probe.settimeout(2)
            probe.connect((other, stack.config.prometheus_port))
