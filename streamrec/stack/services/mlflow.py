"""MLflow tracking server and model registry: SQLite backend, local artifact store."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from streamrec.stack.config import HOST
from streamrec.stack.services.base import PortSpec, ProcessSpec, Service


class MlflowService(Service):
    name = "mlflow"
    process_names = ("mlflow",)
    startup_timeout_s = 90.0
    stop_grace_s = 15.0

    def ports(self) -> list[PortSpec]:
        return [
            PortSpec(
                self.config.mlflow_port,
                "MLflow tracking server",
                "--mlflow-port",
                "STREAMREC_MLFLOW_PORT",
            )
        ]

    def prepare(self) -> None:
        (self.home / "artifacts").mkdir(parents=True, exist_ok=True)

    def processes(self) -> list[ProcessSpec]:
        mlflow = Path(sys.executable).parent / "mlflow"
        args = [
            str(mlflow),
            "server",
            "--host",
            HOST,
            "--port",
            str(self.config.mlflow_port),
            "--backend-store-uri",
            f"sqlite:///{self.home / 'mlflow.db'}",
            # Clients upload artifacts through the server (mlflow-artifacts:/),
            # so they need no access to this directory.
            "--artifacts-destination",
            str(self.home / "artifacts"),
            "--workers",
            "1",
        ]
        env = dict(os.environ)
        # MLflow 3 otherwise starts a job runner with 7 Huey consumers (~240 MiB
        # each, measured: 2.4 GiB in all) for GenAI features this project does
        # not use; without them the server holds ~500 MiB.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        return [
            ProcessSpec(
                name="mlflow",
                args=args,
                log_file=self.config.log_dir / "mlflow" / "server.log",
                env=env,
            )
        ]

    def log_files(self) -> list[Path]:
        return [self.config.log_dir / "mlflow" / "server.log"]

    def is_healthy(self) -> bool:
        import requests

        try:
            return requests.get(f"{self.config.mlflow_url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def address(self) -> str:
        return self.config.mlflow_url
