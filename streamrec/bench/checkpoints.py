"""Checkpoint size and duration of a running job, and the time from a publish to serving.

Reads only Flink's REST API (and, for the publish-to-serving time, the job's output
topic), so it measures any version of the job the same way, however models reach it::

    python -m streamrec.bench.checkpoints --data-dir .streamrec --count 5
    python -m streamrec.bench.checkpoints --data-dir .streamrec --job-name streamrec \\
        --published-at-ms 1795000000000 --model-version 10000 --out ckpt.json

It waits for ``--count`` checkpoints triggered after it starts sampling (earlier ones are
left out: what is measured is the state once the model serves), fetches each one's
per-vertex and per-subtask statistics (``/jobs/<id>/checkpoints/details/<ckpt>`` and
``.../subtasks/<vertex>``), and prints a JSON summary: count, median/max/min of the
checkpointed size (what this checkpoint wrote; incremental for RocksDB keyed state),
the full state size and the end-to-end duration, the same per vertex, and each
subtask's sizes, sync/async times (writing its state), barrier alignment time and start
delay (waiting for barriers: backpressure, a busy operator). Savepoints are never
counted.

With ``--published-at-ms T --model-version V`` it first reads the recommendations topic
(read_uncommitted) from time ``T`` on and reports the first recommendation whose
``model_version`` is ``V``: ``emitted_ts - T`` is the publish-to-serving time. Events
must be flowing for a recommendation to show it, and ``V`` must not be serving already
(e.g. left on a compacted models topic by an earlier run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

POLL_S = 1.0
"""How often the checkpoint history is polled (Flink keeps only its newest entries)."""


# --- the arithmetic (pure) ----------------------------------------------------------------


def spread(values: Sequence[float]) -> dict[str, float | None]:
    """Median, max and min of ``values``; None each when there are none."""
    if not values:
        return {"median": None, "max": None, "min": None}
    return {
        "median": _plain(statistics.median(values)),
        "max": _plain(max(values)),
        "min": _plain(min(values)),
    }


def _plain(value: float) -> float:
    """Integers stay integers in the JSON (a median of two sizes may be a .5)."""
    return int(value) if float(value).is_integer() else round(float(value), 1)


@dataclass(frozen=True)
class SubtaskStats:
    index: int
    state_size: int
    checkpointed_size: int
    end_to_end_duration: int
    sync_ms: int
    async_ms: int
    alignment_ms: int
    start_delay_ms: int


@dataclass(frozen=True)
class VertexStats:
    name: str
    state_size: int
    checkpointed_size: int
    end_to_end_duration: int
    subtasks: tuple[SubtaskStats, ...]


@dataclass(frozen=True)
class CheckpointStats:
    id: int
    trigger_timestamp: int
    state_size: int
    checkpointed_size: int
    end_to_end_duration: int
    vertices: tuple[VertexStats, ...]


def parse_subtask(raw: Mapping[str, Any]) -> SubtaskStats:
    """One entry of ``.../subtasks/<vertex>``'s ``subtasks`` list."""
    timing = raw.get("checkpoint") or {}
    alignment = raw.get("alignment") or {}
    return SubtaskStats(
        index=int(raw.get("index", 0)),
        state_size=int(raw.get("state_size", 0) or 0),
        checkpointed_size=int(raw.get("checkpointed_size", raw.get("state_size", 0)) or 0),
        end_to_end_duration=int(raw.get("end_to_end_duration", 0) or 0),
        sync_ms=int(timing.get("sync", 0) or 0),
        async_ms=int(timing.get("async", 0) or 0),
        alignment_ms=int(alignment.get("duration", 0) or 0),
        start_delay_ms=int(raw.get("start_delay", 0) or 0),
    )


def parse_checkpoint(
    details: Mapping[str, Any],
    vertex_names: Mapping[str, str],
    subtasks: Mapping[str, Sequence[Mapping[str, Any]]],
) -> CheckpointStats:
    """A checkpoint from its ``details`` (tasks keyed by vertex id), the job's vertex
    names and each vertex's subtask entries."""
    vertices = []
    for vertex_id, task in (details.get("tasks") or {}).items():
        vertices.append(
            VertexStats(
                name=vertex_names.get(vertex_id, vertex_id),
                state_size=int(task.get("state_size", 0) or 0),
                checkpointed_size=int(task.get("checkpointed_size", 0) or 0),
                end_to_end_duration=int(task.get("end_to_end_duration", 0) or 0),
                subtasks=tuple(parse_subtask(s) for s in subtasks.get(vertex_id, ())),
            )
        )
    return CheckpointStats(
        id=int(details["id"]),
        trigger_timestamp=int(details.get("trigger_timestamp", 0) or 0),
        state_size=int(details.get("state_size", 0) or 0),
        checkpointed_size=int(details.get("checkpointed_size", 0) or 0),
        end_to_end_duration=int(details.get("end_to_end_duration", 0) or 0),
        vertices=tuple(sorted(vertices, key=lambda v: v.name)),
    )


def new_completed(
    history: Iterable[Mapping[str, Any]], triggered_after_ms: int, seen: set[int]
) -> list[int]:
    """Ids of completed, non-savepoint checkpoints triggered at or after
    ``triggered_after_ms`` and not seen yet, oldest first."""
    ids = {
        int(c["id"])
        for c in history
        if c.get("status") == "COMPLETED"
        and not c.get("is_savepoint", False)
        and int(c.get("trigger_timestamp", 0) or 0) >= triggered_after_ms
        and int(c["id"]) not in seen
    }
    return sorted(ids)


def matches_operator(vertex_name: str, operator: str) -> bool:
    """Whether a (possibly chained) vertex's name holds the operator ``operator``."""
    parts = [p.strip() for p in vertex_name.replace("(", " ").replace(")", " ").split("->")]
    return any(p == operator or p.startswith(f"{operator} ") for p in parts) or (
        vertex_name == operator
    )


def summarize(
    checkpoints: Sequence[CheckpointStats], operator: str | None = None
) -> dict[str, Any]:
    """The JSON summary of sampled checkpoints: totals, per vertex, and per subtask."""
    summary: dict[str, Any] = {
        "count": len(checkpoints),
        "checkpoint_ids": [c.id for c in checkpoints],
        "checkpointed_size_bytes": spread([c.checkpointed_size for c in checkpoints]),
        "state_size_bytes": spread([c.state_size for c in checkpoints]),
        "end_to_end_duration_ms": spread([c.end_to_end_duration for c in checkpoints]),
    }
    by_vertex: dict[str, list[VertexStats]] = {}
    for c in checkpoints:
        for v in c.vertices:
            by_vertex.setdefault(v.name, []).append(v)
    operators = {}
    for name, stats in sorted(by_vertex.items()):
        subtasks = [s for v in stats for s in v.subtasks]
        operators[name] = {
            "checkpointed_size_bytes": spread([v.checkpointed_size for v in stats]),
            "state_size_bytes": spread([v.state_size for v in stats]),
            "end_to_end_duration_ms": spread([v.end_to_end_duration for v in stats]),
            "subtask_state_size_bytes": spread([s.state_size for s in subtasks]),
            "subtask_checkpointed_size_bytes": spread([s.checkpointed_size for s in subtasks]),
            "subtask_sync_ms": spread([s.sync_ms for s in subtasks]),
            "subtask_async_ms": spread([s.async_ms for s in subtasks]),
            "subtask_alignment_ms": spread([s.alignment_ms for s in subtasks]),
            "subtask_start_delay_ms": spread([s.start_delay_ms for s in subtasks]),
        }
    summary["operators"] = operators
    if operator is not None:
        chosen = [n for n in operators if matches_operator(n, operator)]
        summary["operator"] = {"name": operator, "vertex": chosen[0] if chosen else None}
        if chosen:
            summary["operator"].update(operators[chosen[0]])
    summary["checkpoints"] = [
        {
            "id": c.id,
            "trigger_timestamp": c.trigger_timestamp,
            "checkpointed_size": c.checkpointed_size,
            "state_size": c.state_size,
            "end_to_end_duration": c.end_to_end_duration,
            "vertices": {
                v.name: {
                    "checkpointed_size": v.checkpointed_size,
                    "state_size": v.state_size,
                    "end_to_end_duration": v.end_to_end_duration,
                    "subtask_state_sizes": [s.state_size for s in v.subtasks],
                    "subtask_sync_async_alignment_ms": [
                        [s.sync_ms, s.async_ms, s.alignment_ms] for s in v.subtasks
                    ],
                }
                for v in c.vertices
            },
        }
        for c in checkpoints
    ]
    return summary


def first_serving(
    records: Iterable[Mapping[str, Any]], version: str, published_at_ms: int
) -> dict[str, Any] | None:
    """The first recommendation (in the order given) made by ``version`` and emitted at
    or after ``published_at_ms``, and how long after it; None if there is none."""
    for r in records:
        emitted_ts = int(r.get("emitted_ts", 0))
        if str(r.get("model_version")) == str(version) and emitted_ts >= published_at_ms:
            return {
                "model_version": str(version),
                "published_at_ms": published_at_ms,
                "first_emitted_ts": emitted_ts,
                "publish_to_serving_ms": emitted_ts - published_at_ms,
                "event_id": r.get("event_id"),
            }
    return None


# --- talking to Flink and Kafka ------------------------------------------------------------


class Rest:
    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def get(self, path: str) -> Any:
        response = requests.get(f"{self.url}{path}", timeout=self.timeout_s)
        response.raise_for_status()
        return response.json()


def find_job(rest: Rest, job_id: str | None, job_name: str | None) -> dict[str, Any]:
    """The job by id, or the one running job (of ``job_name`` if given)."""
    if job_id is not None:
        return dict(rest.get(f"/jobs/{job_id}"))
    running = [j for j in rest.get("/jobs/overview")["jobs"] if j.get("state") == "RUNNING"]
    if job_name is not None:
        running = [j for j in running if j.get("name") == job_name]
    if len(running) != 1:
        names = ", ".join(f"{j['name']} ({j['jid']})" for j in running) or "none"
        raise SystemExit(
            f"expected one running job{f' named {job_name!r}' if job_name else ''}, "
            f"found: {names}; pass --job-id or --job-name"
        )
    return dict(rest.get(f"/jobs/{running[0]['jid']}"))


def fetch_checkpoint(
    rest: Rest, job_id: str, checkpoint_id: int, vertex_names: Mapping[str, str]
) -> CheckpointStats:
    details = rest.get(f"/jobs/{job_id}/checkpoints/details/{checkpoint_id}")
    subtasks = {}
    for vertex_id in details.get("tasks") or {}:
        body = rest.get(f"/jobs/{job_id}/checkpoints/details/{checkpoint_id}/subtasks/{vertex_id}")
        subtasks[vertex_id] = body.get("subtasks") or []
    return parse_checkpoint(details, vertex_names, subtasks)


def sample(
    rest: Rest,
    job_id: str,
    count: int,
    timeout_s: float,
    include_existing: bool = False,
    progress: Callable[[str], None] = print,
) -> tuple[list[CheckpointStats], dict[str, int]]:
    """Wait for ``count`` completed checkpoints; return them and the failed/total counts
    seen while waiting."""
    job = rest.get(f"/jobs/{job_id}")
    vertex_names = {v["id"]: v["name"] for v in job["vertices"]}
    triggered_after_ms = 0 if include_existing else int(time.time() * 1000)
    first = rest.get(f"/jobs/{job_id}/checkpoints")
    start_counts = first.get("counts") or {}
    seen: set[int] = set()
    taken: list[CheckpointStats] = []
    deadline = time.monotonic() + timeout_s
    body = first
    while len(taken) < count:
        for checkpoint_id in new_completed(body.get("history") or [], triggered_after_ms, seen):
            seen.add(checkpoint_id)
            stats = fetch_checkpoint(rest, job_id, checkpoint_id, vertex_names)
            taken.append(stats)
            progress(
                f"checkpoint {checkpoint_id}: {stats.checkpointed_size} B checkpointed, "
                f"{stats.state_size} B state, {stats.end_to_end_duration} ms "
                f"({len(taken)}/{count})"
            )
            if len(taken) == count:
                break
        if len(taken) == count:
            break
        if time.monotonic() > deadline:
            progress(f"timed out after {timeout_s:.0f}s with {len(taken)}/{count} checkpoints")
            break
        time.sleep(POLL_S)
        body = rest.get(f"/jobs/{job_id}/checkpoints")
    end_counts = body.get("counts") or {}
    counts = {
        k: int(end_counts.get(k, 0) or 0) - int(start_counts.get(k, 0) or 0)
        for k in ("completed", "failed", "total")
    }
    return sorted(taken, key=lambda c: c.id), counts


def recommendations_of(
    bootstrap: str, topic: str, since_ms: int, version: str, timeout_s: float
) -> list[dict[str, Any]]:
    """Recommendations of ``version`` on ``topic`` from time ``since_ms`` on
    (read_uncommitted, so the checkpoint interval does not delay them): read until the
    first shows, then two seconds more, since other partitions may hold an earlier one."""
    from confluent_kafka import OFFSET_END, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"checkpoints-bench-{time.time_ns()}",
            "enable.auto.commit": False,
            "isolation.level": "read_uncommitted",
        }
    )
    found: list[dict[str, Any]] = []
    try:
        meta = consumer.list_topics(topic, timeout=10)
        asked = [TopicPartition(topic, p, since_ms) for p in meta.topics[topic].partitions]
        starts = consumer.offsets_for_times(asked, timeout=10)
        consumer.assign(
            [s if s.offset >= 0 else TopicPartition(topic, s.partition, OFFSET_END) for s in starts]
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=0.5):
                if message.error() is not None:
                    continue
                try:
                    record = json.loads(message.value())
                except ValueError:
                    continue
                if str(record.get("model_version")) == str(version):
                    found.append(record)
            if found:
                deadline = min(deadline, time.monotonic() + 2.0)
    finally:
        consumer.close()
    return found


def serving_time(
    bootstrap: str, topic: str, published_at_ms: int, version: str, timeout_s: float
) -> dict[str, Any] | None:
    """The earliest-emitted recommendation of ``version`` after the publish."""
    matching = recommendations_of(bootstrap, topic, published_at_ms, version, timeout_s)
    matching.sort(key=lambda r: int(r.get("emitted_ts", 0)))
    return first_serving(matching, version, published_at_ms)


# --- command line --------------------------------------------------------------------------


def endpoints(args: argparse.Namespace) -> tuple[str, str | None]:
    """Flink REST URL and Kafka bootstrap, from the flags or the stack's saved ports."""
    rest_url, bootstrap = args.rest_url, args.bootstrap
    if rest_url is None or bootstrap is None:
        saved = Path(args.data_dir) / "run" / "stack.json"
        if not saved.exists():
            raise SystemExit(f"no {saved}: pass --rest-url (and --bootstrap) or --data-dir")
        ports = json.loads(saved.read_text())
        rest_url = rest_url or f"http://127.0.0.1:{ports['flink_rest_port']}"
        bootstrap = bootstrap or f"127.0.0.1:{ports['kafka_port']}"
    return rest_url, bootstrap


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m streamrec.bench.checkpoints",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(__doc__ or "").split("\n\n", 1)[1],
    )
    p.add_argument(
        "--data-dir",
        default=os.environ.get("STREAMREC_HOME", ".streamrec"),
        help="stack data dir, for its saved ports [env STREAMREC_HOME; default ./.streamrec]",
    )
    p.add_argument("--rest-url", default=None, help="Flink REST URL (overrides --data-dir)")
    p.add_argument("--bootstrap", default=None, help="Kafka bootstrap (overrides --data-dir)")
    p.add_argument("--job-id", default=None)
    p.add_argument("--job-name", default=None, help="pick the running job of this name")
    p.add_argument("--count", type=int, default=5, help="completed checkpoints to sample")
    p.add_argument("--timeout-s", type=float, default=600.0, help="give up after this long")
    p.add_argument(
        "--include-existing",
        action="store_true",
        help="also count checkpoints triggered before this started (Flink's history)",
    )
    p.add_argument("--operator", default="recommend", help="vertex to report as 'operator'")
    p.add_argument("--published-at-ms", type=int, default=None, help="publish time (epoch ms)")
    p.add_argument("--model-version", default=None, help="the version that was published")
    p.add_argument("--recommendations-topic", default="recommendations")
    p.add_argument("--serving-timeout-s", type=float, default=300.0)
    p.add_argument("--label", default=None, help="free text kept in the JSON")
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    if (args.published_at_ms is None) != (args.model_version is None):
        p.error("--published-at-ms and --model-version go together")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rest_url, bootstrap = endpoints(args)
    rest = Rest(rest_url)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    job = find_job(rest, args.job_id, args.job_name)
    job_id = str(job["jid"])
    result: dict[str, Any] = {
        "label": args.label,
        "rest_url": rest_url,
        "job_id": job_id,
        "job_name": job.get("name"),
        "vertices": {v["name"]: v.get("parallelism") for v in job["vertices"]},
        "started_at_ms": int(time.time() * 1000),
    }
    if args.published_at_ms is not None:
        assert bootstrap is not None
        progress(f"waiting for a recommendation of model version {args.model_version}")
        result["serving"] = serving_time(
            bootstrap,
            args.recommendations_topic,
            args.published_at_ms,
            str(args.model_version),
            args.serving_timeout_s,
        )
        progress(f"serving: {result['serving']}")
    progress(f"sampling {args.count} checkpoints of job {job_id} at {rest_url}")
    taken, counts = sample(
        rest, job_id, args.count, args.timeout_s, args.include_existing, progress
    )
    result["checkpoint_counts_while_sampling"] = counts
    result.update(summarize(taken, args.operator))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0 if len(taken) == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
