"""Bad-input corpora: raw record values exactly as a producer would put them on Kafka.

``events/`` and ``rules/`` hold one file per kind of bad record (``<kind>.<ext>``) and an
``expected.json`` naming the reason each must be refused with: for events the dead
letter's ``reason``, for rules ``InvalidRulesError.reason``.

Event files cannot hold a timestamp relative to the time of the test, nor ids unique to
one run, so they carry placeholders that :func:`load_event_corpus` substitutes:

- ``"__NOW__"`` (quotes included) -> ``now_ms``, so only the intended defect is wrong;
- ``"__NOW_PLUS_23H__"`` / ``"__NOW_PLUS_10MIN__"`` -> ``now_ms`` + 23 h / + 10 min;
- ``"__NOW_SECONDS__"`` -> ``now_ms // 1000`` (epoch seconds sent as milliseconds);
- ``__MARK__`` (inside ids) -> ``marker``, so one run's dead letters can be told apart.

Placeholders are replaced as bytes, so files that are not UTF-8 keep their bad bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

EVENTS_DIR = Path(__file__).parent / "events"
RULES_DIR = Path(__file__).parent / "rules"
EXPECTED = "expected.json"
DEFAULT_MARKER = "corpus"
_MARKER_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HOUR_MS = 3_600_000


@dataclass(frozen=True)
class CorpusCase:
    name: str
    """The file name, e.g. ``ts_nan.json``."""
    raw: bytes
    """The record value, placeholders substituted."""
    reason: str
    """The reason code it must be refused with."""


def load_event_corpus(now_ms: int, marker: str = DEFAULT_MARKER) -> list[CorpusCase]:
    """Every bad-event case, with timestamps relative to ``now_ms`` and ids carrying
    ``marker`` (letters, digits, ``_`` and ``-`` only, so no case changes its kind)."""
    if not _MARKER_PATTERN.fullmatch(marker):
        raise ValueError(f"marker {marker!r} must match {_MARKER_PATTERN.pattern}")
    substitutions = {
        b'"__NOW__"': now_ms,
        b'"__NOW_PLUS_23H__"': now_ms + 23 * _HOUR_MS,
        b'"__NOW_PLUS_10MIN__"': now_ms + 10 * 60_000,
        b'"__NOW_SECONDS__"': now_ms // 1000,
    }

    def substitute(raw: bytes) -> bytes:
        for token, value in substitutions.items():
            raw = raw.replace(token, str(value).encode())
        return raw.replace(b"__MARK__", marker.encode())

    return _load(EVENTS_DIR, substitute)


def load_rules_corpus() -> list[CorpusCase]:
    """Every bad rules message (non-empty payloads; tombstones are covered elsewhere)."""
    return _load(RULES_DIR, lambda raw: raw)


def _load(directory: Path, substitute: Callable[[bytes], bytes]) -> list[CorpusCase]:
    expected: dict[str, str] = json.loads((directory / EXPECTED).read_text(encoding="utf-8"))
    files = {p.name for p in directory.iterdir() if p.is_file() and p.name != EXPECTED}
    if files != set(expected):
        raise RuntimeError(
            f"{directory}: files without an expected reason {sorted(files - set(expected))}, "
            f"reasons without a file {sorted(set(expected) - files)}"
        )
    return [
        CorpusCase(name, substitute((directory / name).read_bytes()), reason)
        for name, reason in sorted(expected.items())
    ]
