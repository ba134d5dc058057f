"""The operator's side of the scoring worker (``scoring.worker``): start, ask, restart.

Every call blocks until the worker answers, with a deadline; while it waits the
operator's thread holds no interpreter lock, so the TaskManager's other Python work goes
on. A worker that dies or stops answering is killed and started again with the model and
rules it served; the batch it was given is retried once, then answered by popularity,
so a batch that crashes the worker cannot stop the job. Only Cassandra's own failure
(the worker's retry budget spent) fails the task, as it did before the worker existed.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from streamrec.errors import StreamrecError
from streamrec.model_package.errors import PackageRejectedError
from streamrec.scoring.batch_answer import BatchAnswer, BatchRequest
from streamrec.scoring.frames import WorkerGone, read_frame, write_frame
from streamrec.scoring.warm import ServedModel
from streamrec.scoring.worker import WorkerSettings, WriteReport
from streamrec.sinks.cassandra import CassandraWriteError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0
"""Python, TensorFlow and a Cassandra session (~5 s here; much more on a loaded machine)."""
SCORE_TIMEOUT_S = 60.0
"""A batch takes tens of ms; a minute means the worker is stuck."""
MODEL_TIMEOUT_S = 900.0
"""Load, index and trace one package (20 s for HNSW at 100K items)."""


class WorkerTimeout(TimeoutError):
    pass


@dataclass
class _Served:
    package: bytes | None = None
    sha256: str = ""
    rules: bytes | None = None
    trending: dict[str, bytes] = field(default_factory=dict)
    """The newest list per scope, sent again to a restarted worker."""


class _DeadlineReader:
    """``read(n)`` on a pipe that gives up at a deadline (frames.read_frame reads this)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.deadline = 0.0

    def read(self, n: int) -> bytes:
        left = self.deadline - time.monotonic()
        if left <= 0 or not select.select([self.fd], [], [], left)[0]:
            raise WorkerTimeout("the scoring worker did not answer in time")
        return os.read(self.fd, n)


class ScoringWorker:
    def __init__(self, settings: WorkerSettings, python: str | None = None) -> None:
        self.settings = settings
        self.python = python or sys.executable
        self.restarts = 0
        self._served = _Served()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: _DeadlineReader | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        env = dict(os.environ)
        # The embedded interpreter's path holds the job's own files (--pyFiles).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self._proc = subprocess.Popen(
            [self.python, "-m", "streamrec.scoring"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        assert self._proc.stdout is not None
        self._reader = _DeadlineReader(self._proc.stdout.fileno())
        self._ask(("init", self.settings), START_TIMEOUT_S)
        log.info("scoring worker %d started", self._proc.pid)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            assert proc.stdin is not None
            proc.stdin.close()  # the worker exits at end of input
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
            proc.wait()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- requests ----------------------------------------------------------------------

    def load_model(self, package: bytes, sha256: str) -> ServedModel:
        """Load, index and trace a package; PackageRejectedError leaves the previous one
        serving."""
        status, payload = self._ask(("model", (package, sha256)), MODEL_TIMEOUT_S)
        if status != "ok":
            raise PackageRejectedError(*payload)
        self._served.package, self._served.sha256 = package, sha256
        return payload

    def set_rules(self, raw: bytes) -> None:
        self._ask(("rules", raw), SCORE_TIMEOUT_S)
        self._served.rules = raw

    def set_trending(self, scope: str, raw: bytes) -> None:
        self._ask(("trending", raw), SCORE_TIMEOUT_S)
        self._served.trending[scope] = raw

    def write_feedback(self, raw: bytes) -> None:
        self._ask(("feedback", raw), SCORE_TIMEOUT_S)

    def score(self, request: BatchRequest) -> BatchAnswer:
        """The answer to a batch; call ``written`` before the next request."""
        for attempt in range(3):
            if attempt == 2:
                request = BatchRequest(request.events, request.features, fallback_only=True)
            try:
                status, answer = self._ask(("score", request), SCORE_TIMEOUT_S)
            except (WorkerGone, WorkerTimeout, OSError) as ex:
                log.error("scoring worker failed on a batch of %d (attempt %d): %s",
                          len(request.events), attempt + 1, ex)  # fmt: skip
                self._restart()
                continue
            if status != "scored":
                raise StreamrecError(f"scoring worker answered {status!r} to a batch")
            return answer
        raise StreamrecError("the scoring worker failed on the same batch three times")

    def written(self) -> WriteReport:
        """Wait until the last scored batch's Cassandra rows are written.

        If the worker dies here, whether the rows were written is unknown, so this fails
        the task like a Cassandra outage does: the batch is replayed from the checkpoint.
        """
        try:
            status, payload = self._read(SCORE_TIMEOUT_S)
        except (WorkerGone, WorkerTimeout, OSError) as ex:
            self._restart()
            raise CassandraWriteError(f"scoring worker lost while writing Cassandra: {ex}") from ex
        if status == "write_failed":
            raise CassandraWriteError(payload)
        return payload

    # -- plumbing ----------------------------------------------------------------------

    def _ask(self, request: tuple[str, Any], timeout_s: float) -> tuple[str, Any]:
        if self._proc is None:
            self.start()
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            write_frame(proc.stdin, request)
        except (BrokenPipeError, ValueError) as ex:
            raise WorkerGone(f"the scoring worker is gone ({ex})") from ex
        return self._read(timeout_s)

    def _read(self, timeout_s: float) -> tuple[str, Any]:
        assert self._reader is not None
        self._reader.deadline = time.monotonic() + timeout_s
        return read_frame(self._reader)

    def _restart(self) -> None:
        """Kill the worker and start another serving the same model and rules."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        self.restarts += 1
        self.start()
        served = self._served
        if served.package is not None:
            self.load_model(served.package, served.sha256)
        if served.rules is not None:
            self.set_rules(served.rules)
        for scope, raw in list(served.trending.items()):
            self.set_trending(scope, raw)
