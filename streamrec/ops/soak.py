"""Soak test: stream many events through the job, kill its TaskManager a few times, count.

    python -m streamrec.ops.soak --events 1000000 --rate 300 --kills 3

On the local stack (started if needed), on topics of its own: the job is deployed, events are
produced at a steady rate by an idempotent producer, and a read_committed consumer counts the
recommendations per event. The TaskManager JVM is SIGKILLed at evenly spaced points of the run;
its supervisor brings it back and Flink restores the job from its latest checkpoint. At the
end it prints lost and duplicated events and, per kill, how long until the job ran again and
until answers flowed again. Exit status 1 if anything was lost or duplicated.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

from confluent_kafka import Consumer, Producer

from streamrec.job_config.flags import to_args
from streamrec.job_config.settings import Checkpointing, Topics
from streamrec.model_registry.publisher import publish_to_stack
from streamrec.ops import lifecycle
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.launcher import Stack
from streamrec.stack.services.flink import FlinkService
from streamrec.stack.topics import ensure_topics, stack_topics

RECOVERY_TIMEOUT_S = 300.0


@dataclass
class Counts:
    """Recommendations seen per event number (a byte each: 1M events cost 1 MB)."""

    per_event: bytearray
    last_answer_at: float = 0.0
    answered: int = 0

    def add(self, n: int) -> None:
        if 0 <= n < len(self.per_event):
            if self.per_event[n] == 0:
                self.answered += 1
            self.per_event[n] = min(255, self.per_event[n] + 1)
            self.last_answer_at = time.monotonic()


@dataclass
class Recovery:
    killed_at_event: int
    to_running_s: float
    to_answers_s: float


@dataclass
class Soak:
    config: StackConfig
    prefix: str
    events: int
    rate: float
    users: int
    counts: Counts = field(init=False)
    sent: int = 0

    def __post_init__(self) -> None:
        self.counts = Counts(bytearray(self.events))
        self.stop_reading = threading.Event()

    @property
    def topics(self) -> Topics:
        return Topics().prefixed(f"{self.prefix}_")

    def produce(self) -> None:
        producer = Producer(
            {"bootstrap.servers": self.config.kafka_bootstrap, "enable.idempotence": True,
             "linger.ms": 5, "message.timeout.ms": 600_000}
        )  # fmt: skip
        failures: list[str] = []
        started = time.monotonic()
        for n in range(self.events):
            user = f"{self.prefix}-u{n % self.users}"
            item = f"i{(n * 7919) % 2000}"  # the generated catalogue's ids, spread around
            event = {"event_id": f"{self.prefix}-{n}", "user_id": user, "item_id": item,
                     "type": "view", "ts": now_ms()}  # fmt: skip
            while True:
                try:
                    producer.produce(
                        self.topics.events, key=user, value=json.dumps(event),
                        timestamp=event["ts"],
                        on_delivery=lambda err, _m: err and failures.append(str(err)),
                    )  # fmt: skip
                    break
                except BufferError:  # the local queue is full while a broker is slow
                    producer.poll(0.1)
            self.sent = n + 1
            producer.poll(0)
            delay = started + (n + 1) / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        producer.flush(600)
        if failures:
            raise SystemExit(f"the soak's producer failed to send: {failures[:3]}")

    def read(self) -> None:
        consumer = Consumer(
            {"bootstrap.servers": self.config.kafka_bootstrap, "group.id": f"{self.prefix}-r",
             "auto.offset.reset": "earliest", "isolation.level": "read_committed"}
        )  # fmt: skip
        consumer.subscribe([self.topics.recommendations])
        start = len(self.prefix) + 1
        while not self.stop_reading.is_set():
            for message in consumer.consume(500, 0.2):
                if message.error() is None:
                    event_id = json.loads(message.value())["event_id"]
                    self.counts.add(int(event_id[start:]))
        consumer.close()


def now_ms() -> int:
    return int(time.time() * 1000)


def kill_and_time(soak: Soak, job_name: str) -> Recovery:
    flink = FlinkService(soak.config)
    job_id = lifecycle.active_jobs(soak.config, job_name)[0]["jid"]
    victim = flink.taskmanager_pid()
    if victim is None:
        raise SystemExit("no supervised TaskManager to kill: is the stack's Flink up?")
    at_event = soak.sent
    killed = time.monotonic()
    killed_ms = now_ms()
    os.kill(victim, signal.SIGKILL)
    deadline = killed + RECOVERY_TIMEOUT_S
    while not lifecycle.restarted_since(soak.config, job_id, killed_ms):
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} did not recover within {RECOVERY_TIMEOUT_S:.0f} s")
        time.sleep(0.2)
    running = time.monotonic() - killed
    while soak.counts.last_answer_at <= killed + running:
        if time.monotonic() > deadline:
            raise SystemExit(f"no answers within {RECOVERY_TIMEOUT_S:.0f} s of the kill")
        time.sleep(0.1)
    return Recovery(at_event, round(running, 1), round(soak.counts.last_answer_at - killed, 1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m streamrec.ops.soak", description=__doc__)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--rate", type=float, default=300.0, help="events per second")
    p.add_argument("--kills", type=int, default=3, help="TaskManager kills, evenly spaced")
    p.add_argument("--users", type=int, default=5_000)
    p.add_argument("--parallelism", type=int, default=1)
    p.add_argument("--checkpoint-interval-ms", type=int, default=5_000)
    p.add_argument("--drain-timeout-s", type=float, default=300.0)
    args = p.parse_args(argv)

    config = StackConfig.for_data_dir(None)
    Stack(config).up()
    soak = Soak(config, f"soak_{uuid.uuid4().hex[:6]}", args.events, args.rate, args.users)
    ensure_topics(config.kafka_bootstrap, stack_topics(4, prefix=f"{soak.prefix}_"))
    publish_to_stack(model_package(config), config, soak.topics.models)
    job_args = [
        *to_args(soak.topics),
        *to_args(Checkpointing(interval_ms=args.checkpoint_interval_ms), changed_only=True),
    ]
    lifecycle.deploy(config, soak.prefix, job_args, parallelism=args.parallelism, tick=print)
    print(f"soak {soak.prefix}: {args.events} events at {args.rate:.0f}/s, {args.kills} kills")

    reader = threading.Thread(target=soak.read, daemon=True)
    producer = threading.Thread(target=soak.produce, daemon=True)
    started = time.monotonic()
    reader.start()
    producer.start()
    recoveries = []
    kill_points = [args.events * (k + 1) // (args.kills + 1) for k in range(args.kills)]
    while producer.is_alive():
        if kill_points and soak.sent >= kill_points[0]:
            kill_points.pop(0)
            recovery = kill_and_time(soak, soak.prefix)
            recoveries.append(recovery)
            print(
                f"kill at event {recovery.killed_at_event}: job running again after "
                f"{recovery.to_running_s:.1f} s, answers again after {recovery.to_answers_s:.1f} s"
            )
        print(f"sent {soak.sent}, answered {soak.counts.answered} "
              f"({time.monotonic() - started:.0f} s)")  # fmt: skip
        producer.join(timeout=10)
    deadline = time.monotonic() + args.drain_timeout_s
    while soak.counts.answered < args.events and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(3)  # let a late duplicate arrive before counting
    soak.stop_reading.set()
    reader.join()
    elapsed = time.monotonic() - started
    lost = sum(1 for c in soak.counts.per_event if c == 0)
    duplicated = sum(1 for c in soak.counts.per_event if c > 1)
    status = lifecycle.job_status(config, soak.prefix)
    print(
        json.dumps(
            {"events": args.events, "lost": lost, "duplicated": duplicated,
             "seconds": round(elapsed, 1), "restarts": status.restarts,
             "recoveries": [r.__dict__ for r in recoveries], "job": status.job_id},
            indent=2,
        )
    )  # fmt: skip
    flink_client.cancel_job(config, status.job_id)
    return 1 if lost or duplicated else 0


def model_package(config: StackConfig) -> bytes:
    """MLflow's champion if there is one, else a model trained here on generated data."""
    from streamrec.model_registry.mlflow_registry import CHAMPION, MlflowRegistry

    registry = MlflowRegistry(config.mlflow_url, "streamrec")
    version = registry.alias_version(CHAMPION)
    if version is not None:
        print(f"model: champion streamrec version {version} from MLflow")
        return registry.package_bytes(version)
    from streamrec.model_package.package import build_package
    from streamrec.model_registry.synthetic import SyntheticConfig, generate
    from streamrec.model_registry.train import TrainConfig, train

    print("model: no champion in MLflow; training one on generated data (about a minute)")
    data = generate(SyntheticConfig(seed=7))
    result = train(data.events, data.item_categories, TrainConfig())
    return build_package(result.artifacts, "streamrec", "1", result.metrics)


if __name__ == "__main__":
    sys.exit(main())
