"""An optional Prometheus server that scrapes the Flink cluster (``stack up prometheus``).

Debian's ``prometheus`` package (scripts/bootstrap.sh installs it), run by the launcher
like the other servers: its own config and TSDB under the data dir, listening on loopback
only, scraping the JobManager's and the TaskManager's reporter ports every 5 s. Not started
by a plain ``stack up``: the job and the tests need no Prometheus server.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from streamrec.stack.config import HOST
from streamrec.stack.errors import StackError
from streamrec.stack.services.base import PortSpec, ProcessSpec, Service

SCRAPE_INTERVAL = "5s"
RETENTION = "2d"
"""Enough to compare model versions over a day or two; a local stack, not an archive."""


class PrometheusService(Service):
    name = "prometheus"
    process_names = ("prometheus",)
    startup_timeout_s = 60.0
    stop_grace_s = 15.0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.config.prometheus_port}"

    def ports(self) -> list[PortSpec]:
        return [
            PortSpec(
                self.config.prometheus_port,
                "Prometheus server",
                "--prometheus-port",
                "STREAMREC_PROMETHEUS_PORT",
            )
        ]

    def binary(self) -> str:
        found = shutil.which("prometheus") or (
            "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
        )
        if found is None:
            raise StackError(
                "prometheus is not installed: run scripts/bootstrap.sh (it installs Debian's "
                "`prometheus` package) or `apt-get install prometheus`"
            )
        return found

    def config_text(self) -> str:
        first = self.config.flink_metrics_port
        targets = ", ".join(f"'{HOST}:{port}'" for port in (first, first + 1))
        return (
            "# Written by `streamrec stack up prometheus`; rewritten on every start.\n"
            "global:\n"
            f"  scrape_interval: {SCRAPE_INTERVAL}\n"
            f"  scrape_timeout: {SCRAPE_INTERVAL}\n"
            "scrape_configs:\n"
            "  - job_name: flink\n"
            f"    static_configs:\n      - targets: [{targets}]\n"
        )

    def prepare(self) -> None:
        self.binary()  # a clear error before anything starts
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        (self.home / "prometheus.yml").write_text(self.config_text())

    def processes(self) -> list[ProcessSpec]:
        args = [
            self.binary(),
            f"--config.file={self.home / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.home / 'data'}",
            f"--storage.tsdb.retention.time={RETENTION}",
            f"--web.listen-address={HOST}:{self.config.prometheus_port}",
        ]
        return [ProcessSpec("prometheus", args, self.config.log_dir / "prometheus.log")]

    def log_files(self) -> list[Path]:
        return [self.config.log_dir / "prometheus.log"]

    def is_healthy(self) -> bool:
        import requests

        try:
            return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def address(self) -> str:
        return self.url
