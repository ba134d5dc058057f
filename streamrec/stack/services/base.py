"""What every stack service provides to the launcher."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from streamrec.stack.config import StackConfig


@dataclass(frozen=True)
class PortSpec:
    """A port a service binds, with the knobs a user turns to move it."""

    port: int
    what: str
    flag: str
    env_var: str


@dataclass(frozen=True)
class ProcessSpec:
    """One OS process of a service (Flink has two: JobManager and TaskManager)."""

    name: str
    args: list[str]
    log_file: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Service(ABC):
    """A server the launcher prepares, starts, health-checks and stops."""

    name: str
    process_names: tuple[str, ...] = ()
    """Names of the processes :meth:`processes` returns (known before jars resolve)."""
    startup_timeout_s: float = 120.0
    stop_grace_s: float = 30.0

    def __init__(self, config: StackConfig) -> None:
        self.config = config

    @property
    def home(self) -> Path:
        """This service's directory under the data dir."""
        return self.config.data_dir / self.name

    @abstractmethod
    def ports(self) -> list[PortSpec]:
        """Ports that must be free before the service starts."""

    def prepare(self) -> None:
        """Write config files, format storage, resolve jars (idempotent)."""
        return None  # optional hook: some services need no preparation

    @abstractmethod
    def processes(self) -> list[ProcessSpec]:
        """The processes to spawn, in order."""

    @abstractmethod
    def is_healthy(self) -> bool:
        """True once the server answers a real request (not just an open port)."""

    @abstractmethod
    def address(self) -> str:
        """Where clients reach it, for ``status``."""

    @abstractmethod
    def log_files(self) -> list[Path]:
        """The logs worth showing when something fails, most telling first."""

    def after_start(self) -> None:
        """Create topics, tables, ... once healthy (idempotent)."""
        return None  # optional hook
