"""Per-event cost of the event parser now vs at an older commit, in one process.

    .venv/bin/python scripts/bench_parse_edge.py --before eb81080

Both versions parse the same typical event (with a small context), interleaved 7 times;
the medians and their ratio are printed. Reads the older tree with ``git archive``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parser_at(root: Path) -> Callable[..., object]:
    for name in [m for m in sys.modules if m.startswith("streamrec")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        parse = importlib.import_module("streamrec.contracts.event").parse_event
    finally:
        sys.path.pop(0)
    assert parse.__code__.co_filename.startswith(str(root)), parse.__code__.co_filename
    return parse


def micros_per_event(parse: Callable[..., object], raw: bytes, now: int, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        parse(raw, now_ms=now)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--before", required=True, help="git revision to compare with")
    args.add_argument("--events", type=int, default=20_000)
    opts = args.parse_args()
    now = int(time.time() * 1000)
    event = {"event_id": "e-123456", "user_id": "u-98765", "item_id": "i4242",
             "type": "click", "ts": now - 1000, "context": {"page": "home", "pos": 3}}  # fmt: skip
    raw = json.dumps(event).encode()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", opts.before, "streamrec"],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        before = parser_at(Path(tmp))
        after = parser_at(REPO)
        times: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(7):
            times["before"].append(micros_per_event(before, raw, now, opts.events))
            times["after"].append(micros_per_event(after, raw, now, opts.events))
    b, a = statistics.median(times["before"]), statistics.median(times["after"])
    print(f"parse_event: before {b:.1f} us/event, after {a:.1f} us/event, {a / b:.2f}x")


if __name__ == "__main__":
    main()
