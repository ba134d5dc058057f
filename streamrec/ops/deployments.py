"""What ``streamrec job`` remembers about a deployed job, so an upgrade can resubmit it.

Flink does not hand back a Python job's program arguments, so the arguments a user gave at
deploy time (beyond those the stack supplies: ports, keyspace) are kept in
``<data dir>/jobs/<name>.json`` together with the current job id and every savepoint taken.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from streamrec.stack.config import StackConfig


@dataclass(frozen=True)
class SavepointRecord:
    job_id: str
    path: str
    size_bytes: int
    duration_s: float
    taken_ms: int
    reason: str
    """``savepoint``, ``stop``, ``upgrade`` or ``rescale``."""


@dataclass
class Deployment:
    name: str
    job_id: str
    parallelism: int
    job_args: list[str]
    """Arguments for ``recommend.py`` given by the user; the stack's own come on top."""
    savepoints: list[SavepointRecord] = field(default_factory=list)

    @staticmethod
    def path(config: StackConfig, name: str) -> Path:
        return config.data_dir / "jobs" / f"{name}.json"

    def save(self, config: StackConfig) -> None:
        target = self.path(config, self.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(target)  # never a half-written record, even if interrupted

    @classmethod
    def load(cls, config: StackConfig, name: str) -> Deployment | None:
        try:
            raw = json.loads(cls.path(config, name).read_text())
        except FileNotFoundError:
            return None
        raw["savepoints"] = [SavepointRecord(**s) for s in raw.get("savepoints", [])]
        return cls(**raw)

    @property
    def latest_savepoint(self) -> SavepointRecord | None:
        return self.savepoints[-1] if self.savepoints else None
