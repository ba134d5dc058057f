"""Where the stack lives and which ports it uses.

Every value can come from a CLI flag or a ``STREAMREC_*`` environment variable,
so tests and a developer's demo stack can run side by side on one machine.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from streamrec.job_config.settings import JobConfig

HOST = "127.0.0.1"


def default_data_dir() -> Path:
    """``$STREAMREC_HOME``, else ``.streamrec/`` in the current directory."""
    return Path(os.environ.get("STREAMREC_HOME", ".streamrec")).resolve()


def default_cache_dir() -> Path:
    """Resolved jars survive ``stack down`` and data-dir wipes: keep them apart."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("STREAMREC_CACHE", Path(base) / "streamrec")).resolve()


@dataclass(frozen=True)
class StackConfig:
    """Ports and directories of one local stack."""

    data_dir: Path
    """Everything the servers write: data, logs, pid files, checkpoints."""
    cache_dir: Path
    """Maven-resolved jars, shared by every stack on this machine."""
    kafka_port: int = 9092
    """Kafka client (PLAINTEXT) listener."""
    kafka_controller_port: int = 9093
    """KRaft controller listener."""
    cassandra_port: int = 9042
    """CQL native transport."""
    cassandra_storage_port: int = 7000
    """Cassandra inter-node (gossip) port; bound even on a single node."""
    flink_rest_port: int = 8081
    """Flink REST API and web dashboard."""
    flink_rpc_port: int = 6123
    """JobManager RPC (TaskManagers register here)."""
    flink_metrics_port: int = 9249
    """Prometheus reporter: the JobManager and the TaskManager each take the first free
    port of this one and the next (Flink's reporter tries a range)."""
    mlflow_port: int = 5000
    """MLflow tracking server."""
    prometheus_port: int = 9290
    """The optional Prometheus server (``stack up prometheus``), on loopback; not 9090, which
    Debian's own packaged service would take if a machine ran it."""
    keyspace: str = JobConfig.keyspace
    """Cassandra keyspace the migrations create; the job's default, so both agree."""
    topic_partitions: int = 4
    """Partitions of the ``events`` and ``recommendations`` topics (max useful parallelism)."""

    @property
    def kafka_bootstrap(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    @property
    def flink_rest_url(self) -> str:
        return f"http://{HOST}:{self.flink_rest_port}"

    @property
    def mlflow_url(self) -> str:
        return f"http://{HOST}:{self.mlflow_port}"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def jars_dir(self) -> Path:
        return self.cache_dir / "jars"

    def save(self) -> None:
        """Remember the ports used by ``up`` so ``status``/``down`` need no flags."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        data = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}
        (self.run_dir / "stack.json").write_text(json.dumps(data, indent=2))

    @classmethod
    def load_saved(cls, data_dir: Path) -> StackConfig | None:
        path = data_dir / "run" / "stack.json"
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        values["data_dir"] = Path(values["data_dir"])
        values["cache_dir"] = Path(values["cache_dir"])
        return cls(**values)

    @classmethod
    def for_data_dir(cls, data_dir: Path | None, **ports: int | None) -> StackConfig:
        """The stack in ``data_dir`` (default: :func:`default_data_dir`): the ports given
        win, then those recorded by its last ``up``, then the defaults."""
        directory = (data_dir or default_data_dir()).resolve()
        base = cls.load_saved(directory) or cls(data_dir=directory, cache_dir=default_cache_dir())
        return base.with_overrides(**ports)

    def with_overrides(self, **overrides: object) -> StackConfig:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})
