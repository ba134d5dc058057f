"""``stack up | down | status | logs``: the lifecycle of the local servers.

``up`` checks every port before it starts anything, starts the services that
are not already running side by side (they boot concurrently; total time is
that of the slowest), waits for each to answer a real request, then creates
topics and tables. ``down`` stops only processes stamped with this data dir.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from streamrec.stack import process, toolchain
from streamrec.stack.config import HOST, StackConfig
from streamrec.stack.errors import ServiceStartError, StackError
from streamrec.stack.keys import ensure_signing_keys, signing_key_path
from streamrec.stack.ports import require_free
from streamrec.stack.services.base import Service
from streamrec.stack.services.cassandra import CassandraService
from streamrec.stack.services.flink import FlinkService
from streamrec.stack.services.kafka import KafkaService
from streamrec.stack.services.mlflow import MlflowService
from streamrec.stack.services.prometheus import PrometheusService

SERVICE_TYPES: dict[str, type[Service]] = {
    "kafka": KafkaService,
    "cassandra": CassandraService,
    "flink": FlinkService,
    "mlflow": MlflowService,
    "prometheus": PrometheusService,
}
ALL_SERVICES = tuple(SERVICE_TYPES)
OPTIONAL_SERVICES = ("prometheus",)
"""Started only when named (``stack up prometheus``); ``down`` and ``status`` cover them."""
DEFAULT_SERVICES = tuple(n for n in ALL_SERVICES if n not in OPTIONAL_SERVICES)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str
    """``up`` (healthy), ``unhealthy`` (processes alive, not answering), ``down``, or
    ``off`` (an optional service nobody started)."""
    pids: list[int]
    address: str
    rss_bytes: int
    started_at: float | None


@dataclass(frozen=True)
class StartReport:
    name: str
    already_running: bool
    seconds: float
    """Spawn to first healthy answer (0 when it was already running)."""
    pids: list[int]


def select(names: Iterable[str] | None, default: Iterable[str] = ALL_SERVICES) -> list[str]:
    chosen = list(names) if names else list(default)
    unknown = [n for n in chosen if n not in SERVICE_TYPES]
    if unknown:
        raise StackError(
            f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(ALL_SERVICES)}"
        )
    return [n for n in ALL_SERVICES if n in chosen]


class Stack:
    def __init__(self, config: StackConfig, echo: Callable[[str], None] = print) -> None:
        self.config = config
        self.echo = echo
        self.services = {name: cls(config) for name, cls in SERVICE_TYPES.items()}

    # -- bookkeeping ---------------------------------------------------------

    def _record_path(self, process_name: str) -> Path:
        return self.config.run_dir / f"{process_name}.json"

    def _records(self, service: Service) -> list[process.ProcessRecord]:
        records = []
        for path in sorted(self.config.run_dir.glob(f"{service.name}*.json")):
            record = process.ProcessRecord.load(path)
            if record and record.service == service.name:
                records.append(record)
        return records

    def _live_records(self, service: Service) -> list[process.ProcessRecord]:
        return [r for r in self._records(service) if process.is_ours(r)]

    @property
    def marker(self) -> str:
        return str(self.config.data_dir)

    # -- up ------------------------------------------------------------------

    def up(self, names: Iterable[str] | None = None) -> list[StartReport]:
        chosen = [self.services[n] for n in select(names, DEFAULT_SERVICES)]
        toolchain.require_java()
        to_start: list[Service] = []
        for service in chosen:
            expected = len(service.process_names)
            live = self._live_records(service)
            if live and len(live) == expected:
                continue
            if live:
                # Half a service (e.g. a JobManager without its TaskManager) is
                # restarted whole rather than patched.
                self.echo(f"{service.name}: partly running, restarting it")
                self._stop_service(service)
            to_start.append(service)
        for service in to_start:
            for spec in service.ports():
                require_free(HOST, spec.port, what=spec.what, flag=spec.flag, env_var=spec.env_var)
        self.config.save()
        if ensure_signing_keys(self.config):
            self.echo(f"model signing key created in {signing_key_path(self.config).parent}")
        for service in to_start:
            service.prepare()

        spawned_at: dict[str, float] = {}
        for service in to_start:
            self._clear_records(service)
            spawned_at[service.name] = time.time()
            for spec in service.processes():
                proc = process.spawn(
                    spec.args, owner=self.marker, log_file=spec.log_file, env=spec.env
                )
                process.ProcessRecord(
                    service=service.name,
                    pid=proc.pid,
                    started_at=spawned_at[service.name],
                    marker=self.marker,
                    log_file=str(spec.log_file),
                ).save(self._record_path(spec.name))
            self.echo(f"{service.name}: starting")

        ready_after = self._wait_all_healthy(to_start, spawned_at)
        reports = []
        for service in chosen:
            if service.name in ready_after:
                reports.append(
                    StartReport(service.name, False, ready_after[service.name], self._pids(service))
                )
                continue
            if not self._wait_until(service.is_healthy, 30.0):
                raise ServiceStartError(
                    f"{service.name}: its processes run but it does not answer; "
                    f"try `streamrec stack down` then `up`\n{self._log_tail(service)}"
                )
            self.echo(f"{service.name}: already running at {service.address()}")
            reports.append(StartReport(service.name, True, 0.0, self._pids(service)))
        for service in chosen:
            service.after_start()
        return reports

    def _pids(self, service: Service) -> list[int]:
        return [r.pid for r in self._live_records(service)]

    def _wait_until(self, check: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.5)
        return False

    def _wait_all_healthy(
        self, services: list[Service], spawned_at: dict[str, float]
    ) -> dict[str, float]:
        """Poll every starting service each round so each reports its own start time."""
        pending = {s.name: s for s in services}
        ready_after: dict[str, float] = {}
        while pending:
            for name, service in list(pending.items()):
                elapsed = time.time() - spawned_at[name]
                if len(self._live_records(service)) < len(service.process_names):
                    self._fail_start(service, "the process exited during start-up")
                if service.is_healthy():
                    ready_after[name] = elapsed
                    del pending[name]
                    self.echo(f"{name}: up in {elapsed:.1f}s at {service.address()}")
                elif elapsed > service.startup_timeout_s:
                    self._fail_start(
                        service,
                        f"not healthy after {service.startup_timeout_s:.0f}s "
                        "(machine overloaded? too little memory?)",
                    )
            if pending:
                time.sleep(0.5)
        return ready_after

    def _fail_start(self, service: Service, reason: str) -> None:
        tail = self._log_tail(service)
        self._stop_service(service)
        raise ServiceStartError(
            f"{service.name}: {reason}; it was stopped. Its log is under "
            f"{self.config.log_dir / service.name}\n{tail}"
        )

    def _log_tail(self, service: Service, lines: int = 25) -> str:
        for path in service.log_files():
            if path.exists() and path.stat().st_size > 0:
                return f"--- last lines of {path} ---\n{process.tail(path, lines)}"
        return "(the service wrote no log)"

    # -- down ----------------------------------------------------------------

    def down(self, names: Iterable[str] | None = None) -> dict[str, str]:
        """Stop the chosen services, newest layer first; return what happened to each."""
        chosen = select(names)
        outcome = {}
        # Reverse start order: Flink stops before Kafka, so a running job does not
        # watch Kafka disappear under it.
        for name in reversed(ALL_SERVICES):
            if name in chosen:
                outcome[name] = self._stop_service(self.services[name])
        if len(chosen) == len(ALL_SERVICES):
            strays = process.owned_pids(self.marker)
            for pid in strays:
                process.stop_group(pid, grace_seconds=5)
            if strays:
                outcome["strays"] = f"stopped {len(strays)} stray process(es)"
        return outcome

    def _stop_service(self, service: Service) -> str:
        live = self._live_records(service)
        forced = False
        # TaskManager before JobManager, so the JM does not try to restart tasks.
        for record in reversed(live):
            forced |= process.stop_group(record.pid, grace_seconds=service.stop_grace_s)
        self._clear_records(service)
        if not live:
            return "was not running"
        pids = ", ".join(str(r.pid) for r in live)
        return f"stopped pid {pids}" + (" (forced after grace period)" if forced else "")

    def _clear_records(self, service: Service) -> None:
        for record_file in self.config.run_dir.glob(f"{service.name}*.json"):
            record_file.unlink(missing_ok=True)

    # -- status / logs ---------------------------------------------------------

    def status(self, names: Iterable[str] | None = None) -> list[ServiceStatus]:
        result = []
        for name in select(names):
            service = self.services[name]
            live = self._live_records(service)
            pids = [pid for r in live for pid in process.group_members(r.pid)]
            if not live:
                state = "off" if name in OPTIONAL_SERVICES else "down"
            elif len(live) < len(service.process_names) or not service.is_healthy():
                state = "unhealthy"
            else:
                state = "up"
            result.append(
                ServiceStatus(
                    name=name,
                    state=state,
                    pids=pids,
                    address=service.address(),
                    rss_bytes=process.resident_bytes(pids),
                    started_at=min((r.started_at for r in live), default=None),
                )
            )
        return result

    def logs(self, name: str, lines: int = 50) -> str:
        service = self.services[select([name])[0]]
        parts = []
        for path in service.log_files():
            if path.exists():
                parts.append(f"--- {path} ---\n{process.tail(path, lines)}")
        return "\n".join(parts) or f"{name} has written no log yet under {self.config.log_dir}"
