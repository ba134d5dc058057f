"""A fake of the Flink REST endpoints ``streamrec job`` uses, installed under flink_client.

Only ``rest_get`` and ``rest_patch`` are replaced, so the real client functions (overview,
exception history, cancel) run against it. A cancelled job goes CANCELLING, then CANCELED
after ``polls_to_cancel`` state reads, as a real one does once its tasks have stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from streamrec.ops import lifecycle
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig


@dataclass
class FakeJob:
    jid: str
    name: str
    state: str
    start_ms: int = 1_000
    checkpoints: dict[str, Any] = field(default_factory=dict)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    tasks_running: bool = True


class FakeFlink:
    def __init__(self, polls_to_cancel: int = 2) -> None:
        self.jobs: dict[str, FakeJob] = {}
        self.patches: list[tuple[str, dict[str, Any] | None]] = []
        self.polls_to_cancel = polls_to_cancel
        self._cancel_polls: dict[str, int] = {}
        self.fail_checkpoints = False

    def add(self, job: FakeJob) -> FakeJob:
        self.jobs[job.jid] = job
        return job

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeFlink:
        monkeypatch.setattr(flink_client, "rest_get", self.get)
        monkeypatch.setattr(flink_client, "rest_patch", self.patch)
        monkeypatch.setattr(lifecycle.time, "sleep", lambda _s: None)
        return self

    def _advance(self, job: FakeJob) -> None:
        if job.state == "CANCELLING":
            polls = self._cancel_polls.get(job.jid, 0) + 1
            self._cancel_polls[job.jid] = polls
            if polls >= self.polls_to_cancel:
                job.state = "CANCELED"

    def get(self, _config: StackConfig, path: str, params: dict[str, Any] | None = None) -> Any:
        parts = path.strip("/").split("/")
        if parts == ["jobs", "overview"]:
            for job in self.jobs.values():
                self._advance(job)
            return {
                "jobs": [
                    {"jid": j.jid, "name": j.name, "state": j.state, "start-time": j.start_ms}
                    for j in self.jobs.values()
                ]
            }
        if parts[0] == "jobs" and parts[1] in self.jobs:
            job = self.jobs[parts[1]]
            if len(parts) == 2:
                status = "RUNNING" if job.tasks_running else "DEPLOYING"
                return {
                    "state": job.state,
                    "vertices": [{"status": status, "parallelism": 1}],
                }
            if parts[2] == "exceptions":
                return {"exceptionHistory": {"entries": job.exceptions}}
            if parts[2] == "checkpoints":
                if self.fail_checkpoints:
                    raise requests.ConnectionError("flink went away")
                return job.checkpoints
        response = requests.Response()
        response.status_code = 404
        raise requests.HTTPError(f"404 for {path}", response=response)

    def patch(self, _config: StackConfig, path: str, params: dict[str, Any] | None = None) -> int:
        self.patches.append((path, params))
        job = self.jobs[path.strip("/").split("/")[1]]
        if params == {"mode": "cancel"} and job.state not in lifecycle.ENDED_STATES:
            job.state = "CANCELLING"
        return 202


def completed(path: str, checkpoint_id: int = 7, ack_ms: int = 5_000) -> dict[str, Any]:
    """A ``/checkpoints`` body whose latest completed checkpoint is at ``path``."""
    return {
        "latest": {
            "completed": {
                "id": checkpoint_id,
                "external_path": path,
                "latest_ack_timestamp": ack_ms,
            }
        }
    }


def restored(path: str, *, savepoint: bool = True) -> dict[str, Any]:
    """A ``/checkpoints`` body of a job restored from ``path`` that checkpointed nothing since."""
    return {
        "latest": {
            "restored": {"external_path": path, "is_savepoint": savepoint, "restore_timestamp": 1}
        }
    }
