"""Throughput and latency of a running streamrec job, measured from outside through Kafka.

Two phases against the job's own topics:

1. **Throughput**: produce ``--burst`` events as fast as possible, then read every
   recommendation back (read_committed); the rate is events / (last emitted_ts - first
   event ts). The job is the bottleneck as long as the producer is faster, which it is here.
2. **Latency**: produce ``--paced`` events at ``--rate`` per second and report p50/p95/p99
   of emitted_ts - event_ts (time in the job) and of read time - event_ts (visible to a
   read_committed consumer, so it includes the checkpoint interval under exactly-once).

    python -m streamrec.bench.job_load --burst 20000 --paced 3000 --rate 500

The full benchmark against baselines is a separate harness; this is the quick check the
job's closing numbers come from.
"""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any

from streamrec.model_registry.replay import live_copies, records_stamped_at_send, replay
from streamrec.model_registry.synthetic import SyntheticConfig, generate
from streamrec.stack.readback import read_recommendations


def make_events(count: int, prefix: str) -> list[dict[str, Any]]:
    data = generate(SyntheticConfig(seed=7))
    return live_copies(data.events[-count:], prefix)


def produce(bootstrap: str, topic: str, events: list[dict[str, Any]], rate: float | None) -> None:
    records = records_stamped_at_send(events)
    replay(records, bootstrap, topic, rate, lambda line: print(f"  {line}"), linger_ms=5)


def collect(bootstrap: str, topic: str, wanted: set[str], timeout_s: float) -> list[dict]:
    def progress(done: int, total: int) -> None:
        print(f"\r  read {done}/{total}", end="", flush=True)

    found = read_recommendations(bootstrap, topic, wanted, timeout_s, progress)
    print(f"\r  read {len(found)}/{len(wanted)}")
    return list(found.values())


def pct(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else -1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--events-topic", default="events")
    parser.add_argument("--recommendations-topic", default="recommendations")
    parser.add_argument("--burst", type=int, default=20_000)
    parser.add_argument("--paced", type=int, default=3_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)
    run = uuid.uuid4().hex[:6]
    report: dict[str, Any] = {}

    print(f"throughput: {args.burst} events as fast as possible")
    burst = make_events(args.burst, f"load-{run}b")
    produce(args.bootstrap, args.events_topic, burst, None)
    got = collect(args.bootstrap, args.recommendations_topic,
                  {e["event_id"] for e in burst}, 600)  # fmt: skip
    first_ts = min(e["ts"] for e in burst)
    last_emit = max(r["emitted_ts"] for r in got)
    report["burst"] = {
        "events": len(burst),
        "recommendations": len(got),
        "events_per_s": round(len(got) / max(1e-3, (last_emit - first_ts) / 1000), 1),
    }
    print(f"  {report['burst']}")

    print(f"latency: {args.paced} events at {args.rate:.0f}/s")
    paced = make_events(args.paced, f"load-{run}p")
    produce(args.bootstrap, args.events_topic, paced, args.rate)
    got = collect(args.bootstrap, args.recommendations_topic,
                  {e["event_id"] for e in paced}, 300)  # fmt: skip
    in_job = [r["emitted_ts"] - r["event_ts"] for r in got]
    visible = [r["read_ts"] - r["event_ts"] for r in got]
    report["paced"] = {
        "rate": args.rate,
        "recommendations": len(got),
        **{f"job_p{q}_ms": pct(in_job, q / 100) for q in (50, 95, 99)},
        **{f"visible_p{q}_ms": pct(visible, q / 100) for q in (50, 95, 99)},
    }
    print(f"  {report['paced']}")
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
