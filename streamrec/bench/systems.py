"""The systems under test, each on its own fresh topics: the Flink job and baselines (a)/(b).

A system is started with the benchmark's model already serving, and stopped by the
benchmark whatever happens (``with system:``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from streamrec.bench.catalog import Catalog
from streamrec.bench.traffic import Progress, silent
from streamrec.job_config.flags import to_args
from streamrec.job_config.settings import Batching, Checkpointing, JobConfig, Topics
from streamrec.model_registry.publisher import publish_to_stack
from streamrec.ops import lifecycle
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.topics import TopicSpec, ensure_topics, stack_topics

READY_TIMEOUT_S = 300.0
STOPPED_TIMEOUT_S = 60.0


class StopsOnExit:
    """``with system:`` stops it however the block ends."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


@dataclass
class FlinkJob(StopsOnExit):
    """``recommend.py`` deployed on the stack's Flink with ``streamrec job deploy``'s code."""

    config: StackConfig
    catalog: Catalog
    name: str
    delivery: str = Checkpointing.delivery
    parallelism: int = 1
    extra_args: Sequence[str] = ()
    label: str = ""
    job_id: str | None = field(default=None, init=False)

    writes_cassandra = True

    @property
    def prefix(self) -> str:
        return f"{self.name}."

    @property
    def topics(self) -> Topics:
        return Topics().prefixed(self.prefix)

    @property
    def in_topic(self) -> str:
        return self.topics.events

    @property
    def out_topic(self) -> str:
        return self.topics.recommendations

    @property
    def transactional(self) -> bool:
        return self.delivery == Checkpointing.delivery

    def start(self, progress: Progress) -> None:
        ensure_topics(
            self.config.kafka_bootstrap, stack_topics(self.config.topic_partitions, self.prefix)
        )
        job = JobConfig(
            bootstrap=self.config.kafka_bootstrap,
            group_id=self.name,
            topics=self.topics,
            checkpointing=Checkpointing(delivery=self.delivery),
        )
        args = [*to_args(job, changed_only=True), *self.extra_args]
        deployment = lifecycle.deploy(
            self.config, self.name, args, parallelism=self.parallelism, tick=silent
        )
        self.job_id = deployment.job_id
        progress(f"{self.label}: job {self.job_id} running; publishing the model")
        publish_to_stack(self.catalog.package, self.config, self.topics.models)
        wanted = int(self.catalog.version)
        lifecycle.wait(
            "model serving on every subtask",
            lambda: self._serving(wanted),
            READY_TIMEOUT_S,
            silent,
        )

    def _serving(self, version: int) -> tuple[bool | None, str]:
        assert self.job_id is not None
        state = flink_client.job_state(self.config, self.job_id)
        if state in ("FAILED", "CANCELED", "FINISHED"):
            reason = lifecycle.failure_reason(self.config, self.job_id)
            raise RuntimeError(f"job {self.name} is {state} while loading the model: {reason}")
        lowest = flink_client.operator_metric(
            self.config, self.job_id, "recommend", "modelVersion", agg="min"
        )
        return (True if lowest == version else None), f"model version {lowest}"

    def stop(self) -> None:
        if self.job_id is None:
            return
        job_id, self.job_id = self.job_id, None
        flink_client.cancel_job(self.config, job_id)
        # (c) is measured next: it must not share the two cores with the job's teardown.
        # Best effort, as this also runs when the block failed.
        deadline = time.monotonic() + STOPPED_TIMEOUT_S
        while flink_client.job_state(self.config, job_id) not in lifecycle.ENDED_STATES:
            if time.monotonic() > deadline:
                return
            time.sleep(0.5)


@dataclass
class ConsumerBaseline(StopsOnExit):
    """Baseline (a) or (b): ``streamrec.bench.baseline_consumer`` as a child process."""

    config: StackConfig
    package_path: Path
    name: str
    mode: str
    max_batch: int = Batching.max_batch
    max_delay_ms: int = Batching.max_delay_ms
    label: str = ""
    process: subprocess.Popen[str] | None = field(default=None, init=False)

    writes_cassandra = False
    transactional = False

    @property
    def in_topic(self) -> str:
        return Topics().prefixed(f"{self.name}.").events

    @property
    def out_topic(self) -> str:
        return Topics().prefixed(f"{self.name}.").recommendations

    def start(self, progress: Progress) -> None:
        partitions = self.config.topic_partitions
        ensure_topics(
            self.config.kafka_bootstrap,
            [TopicSpec(self.in_topic, partitions), TopicSpec(self.out_topic, partitions)],
        )
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "streamrec.bench.baseline_consumer",
                "--bootstrap", self.config.kafka_bootstrap,
                "--events-topic", self.in_topic,
                "--out-topic", self.out_topic,
                "--package", str(self.package_path),
                "--mode", self.mode,
                "--max-batch", str(self.max_batch),
                "--max-delay-ms", str(self.max_delay_ms),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until "ready" or the child exits
        if line.strip() != "ready":
            code = self.process.wait(10)
            raise RuntimeError(f"{self.label}: the consumer exited ({code}) before it was ready")
        progress(f"{self.label}: consumer pid {self.process.pid} ready")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None
