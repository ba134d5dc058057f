"""Baselines (a) and (b): the model embedded in a plain Kafka consumer, no Flink.

This is the embedded-model pattern of Kafka Streams + TensorFlow, in Python with the
same parsing, feature updates and ``score_batch`` as the job:

- ``per-event`` (a): poll one event, fold it into the user's features, score it alone,
  produce the answer.
- ``micro-batch`` (b): poll up to ``--max-batch`` events or ``--max-delay-ms``, whatever
  comes first, score them in one call, produce the answers.

Deliberately generous to the baselines: user state is a plain dict (no changelog, lost on
a crash), offsets are auto-committed (at-least-once at best), and nothing is written to
Cassandra. Started by the benchmark as a subprocess; prints ``ready`` once the model is
loaded, warm and the consumer is assigned.

    python -m streamrec.bench.baseline_consumer --bootstrap 127.0.0.1:9092 \
        --events-topic bench-events --out-topic bench-out --package model.zip --mode per-event
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from streamrec.contracts.event import InvalidEventError, parse_event
from streamrec.contracts.recommendation import Recommendation
from streamrec.job_config.settings import Batching, Scoring
from streamrec.model_package.package import load_package
from streamrec.scoring.pipeline import ScoringConfig, score_batch
from streamrec.scoring.warm import category_lookup
from streamrec.state.features import UserFeatures, default_spec, update

MODES = ("per-event", "micro-batch")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--events-topic", required=True)
    p.add_argument("--out-topic", required=True)
    p.add_argument("--package", type=Path, required=True, help="a model package file")
    p.add_argument("--mode", choices=MODES, required=True)
    # The job's defaults, so that the baselines score what the job scores.
    p.add_argument("--max-batch", type=int, default=Batching.max_batch)
    p.add_argument("--max-delay-ms", type=int, default=Batching.max_delay_ms)
    p.add_argument("--k", type=int, default=Scoring.k)
    p.add_argument("--num-candidates", type=int, default=Scoring.num_candidates)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from confluent_kafka import Consumer, Producer

    args = parse_args(argv)
    model = load_package(args.package.read_bytes(), default_spec())
    config = ScoringConfig(k=args.k, num_candidates=args.num_candidates)
    # Warm up: index build and graph tracing happen before "ready", as in the job.
    score_batch(model, [UserFeatures()], config)
    score_batch(model, [UserFeatures()] * min(args.max_batch, 64), config)
    categories = category_lookup(model)
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": f"streamrec-baseline-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            "fetch.wait.max.ms": 5,
            "log_level": 3,
        }
    )
    producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 1})
    assigned = []
    consumer.subscribe([args.events_topic], on_assign=lambda _c, parts: assigned.extend(parts))
    while not assigned:
        consumer.poll(0.1)
    print("ready", flush=True)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    states: dict[str, UserFeatures] = {}
    batch_size = 1 if args.mode == "per-event" else args.max_batch
    delay_s = 0.1 if args.mode == "per-event" else args.max_delay_ms / 1000
    while not stopping:
        messages = consumer.consume(batch_size, delay_s)
        batch = []
        for message in messages:
            if message.error():
                continue
            try:
                event = parse_event(message.value(), now_ms=int(time.time() * 1000))
            except InvalidEventError:
                continue
            states[event.user_id] = update(
                states.get(event.user_id, UserFeatures()), event, categories
            )
            batch.append((event, states[event.user_id]))
        if not batch:
            continue
        result = score_batch(model, [f for _, f in batch], config)
        emitted = int(time.time() * 1000)
        for (event, features), items in zip(batch, result.recommendations, strict=True):
            rec = Recommendation(
                event_id=event.event_id,
                user_id=event.user_id,
                items=items,
                model_version=model.version,
                model_name=model.model_name,
                rules_version=None,
                event_ts=event.ts,
                emitted_ts=emitted,
                events_seen=sum(features.event_counts.values()),
            )
            _produce(producer, args.out_topic, rec)
        producer.poll(0)
    producer.flush(30)
    consumer.close()
    return 0


def _produce(producer: Any, topic: str, rec: Recommendation) -> None:
    while True:
        try:
            producer.produce(topic, key=rec.user_id.encode(), value=rec.to_json().encode())
            return
        except BufferError:
            producer.poll(0.05)


if __name__ == "__main__":
    sys.exit(main())
