"""How fast the job drains a backlog: deploy it, send bursts at once, time the answers.

A quick A/B tool for the hot path (``streamrec bench`` is the full method): each burst's
events are sent as fast as the producer goes and the drain rate is read from the
answers' emission times. Needs ``streamrec stack up``; a TaskManager runs the Python code
it first imported, so restart it after changing the job's code (``--restart-taskmanager``).

    python -m streamrec.bench.drain --items 10000 --bursts 2000,20000
"""

from __future__ import annotations

import argparse
import shlex
import time
import uuid
from pathlib import Path

from streamrec.bench.catalog import MODEL_KINDS, load_or_build
from streamrec.bench.measure import drain_rate
from streamrec.bench.systems import FlinkJob
from streamrec.bench.traffic import OutputWatcher, PacedProducer
from streamrec.ops.taskmanager import restart_taskmanager
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--bursts", default="2000,20000", help="events per burst, comma-separated")
    p.add_argument("--job-args", default="", help="extra arguments for jobs/recommend.py")
    p.add_argument("-p", "--parallelism", type=int, default=1)
    p.add_argument("--data-dir", type=Path, default=Path(".streamrec"))
    p.add_argument("--restart-taskmanager", action="store_true")
    p.add_argument(
        "--model", choices=MODEL_KINDS, default="ranker", help="the model the job serves"
    )
    args = p.parse_args(argv)
    config = StackConfig.for_data_dir(args.data_dir)
    if args.restart_taskmanager:
        restart_taskmanager(config)
    catalog = load_or_build(args.items, config.data_dir / "bench", print, args.model)
    name = f"drain-{uuid.uuid4().hex[:6]}"
    job = FlinkJob(config, catalog, name, parallelism=args.parallelism,
                   extra_args=shlex.split(args.job_args), label="job")  # fmt: skip
    with job:
        job.start(print)
        assert job.job_id is not None
        watcher = OutputWatcher(config.kafka_bootstrap, job.out_topic, committed=True).start()
        producer = PacedProducer(config.kafka_bootstrap, job.in_topic)
        offset = 0
        try:
            for size in (int(b) for b in args.bursts.split(",")):
                events = catalog.events(size, f"{name}-{offset}", offset)
                offset += size
                started = time.monotonic()
                producer.send(events, None)
                missing = watcher.wait_for([e["event_id"] for e in events], 600)
                wall = time.monotonic() - started
                emitted = [watcher.answers[e["event_id"]].emitted_ts
                           for e in events if e["event_id"] in watcher.answers]  # fmt: skip
                batch = flink_client.operator_metric(
                    config, job.job_id, "recommend", "batchSize", agg="max"
                )
                print(f"burst {size}: {size / wall:.0f}/s end to end, drained at "
                      f"{drain_rate(emitted):.0f}/s, {len(missing)} unanswered, "
                      f"last batch {batch}", flush=True)  # fmt: skip
        finally:
            watcher.stop()


if __name__ == "__main__":
    main()
