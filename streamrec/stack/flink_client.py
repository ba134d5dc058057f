"""Submit, inspect and cancel jobs on the local Flink cluster.

Submission goes through ``bin/flink run --python`` (what users do); queries and
cancellation go through the REST API the dashboard uses.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from streamrec.stack.config import StackConfig
from streamrec.stack.errors import StackError
from streamrec.stack.services.flink import flink_binary, flink_client_env

JOB_ID = re.compile(r"JobID ([0-9a-f]{32})")


def submit_python_job(
    config: StackConfig,
    script: Path,
    job_args: Sequence[str] = (),
    *,
    parallelism: int | None = None,
    from_savepoint: str | None = None,
    timeout_s: float = 300.0,
) -> str:
    """``flink run --detached --python script job_args...``; return the job id."""
    cmd = ["bash", str(flink_binary()), "run", "--detached"]
    if parallelism:
        cmd += ["--parallelism", str(parallelism)]
    if from_savepoint:
        cmd += ["--fromSavepoint", from_savepoint]
    cmd += ["--python", str(script), *job_args]
    proc = subprocess.run(
        cmd,
        env=flink_client_env(config),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    output = proc.stdout + proc.stderr
    match = JOB_ID.search(output)
    if proc.returncode != 0 or not match:
        tail = "\n".join(output.splitlines()[-30:])
        raise StackError(f"flink run --python {script} failed (exit {proc.returncode}):\n{tail}")
    return match.group(1)


def jobs_overview(config: StackConfig) -> list[dict[str, Any]]:
    response = requests.get(f"{config.flink_rest_url}/jobs/overview", timeout=10)
    response.raise_for_status()
    return list(response.json()["jobs"])


def job_state(config: StackConfig, job_id: str) -> str | None:
    for job in jobs_overview(config):
        if job["jid"] == job_id:
            return str(job["state"])
    return None


def job_details(config: StackConfig, job_id: str) -> dict[str, Any]:
    response = requests.get(f"{config.flink_rest_url}/jobs/{job_id}", timeout=10)
    response.raise_for_status()
    return dict(response.json())


def all_tasks_running(config: StackConfig, job_id: str) -> bool:
    """RUNNING at job level is not enough: a source still DEPLOYING reads nothing."""
    details = job_details(config, job_id)
    return details["state"] == "RUNNING" and all(
        v["status"] == "RUNNING" for v in details["vertices"]
    )


def cancel_job(config: StackConfig, job_id: str) -> None:
    response = requests.patch(f"{config.flink_rest_url}/jobs/{job_id}?mode=cancel", timeout=10)
    if response.status_code not in (200, 202):
        raise StackError(
            f"cancel of job {job_id} failed: HTTP {response.status_code} {response.text}"
        )


def operator_metric(config: StackConfig, job_id: str, operator: str, metric: str) -> float | None:
    """A user metric of ``operator`` summed over its subtasks (None until reported).

    Looks through every vertex, since chaining decides which vertex holds the operator.
    """
    for vertex in job_details(config, job_id)["vertices"]:
        response = requests.get(
            f"{config.flink_rest_url}/jobs/{job_id}/vertices/{vertex['id']}/subtasks/metrics",
            params={"get": f"{operator}.{metric}", "agg": "sum"},
            timeout=10,
        )
        response.raise_for_status()
        for entry in response.json():
            if entry.get("id") == f"{operator}.{metric}" and "sum" in entry:
                return float(entry["sum"])
    return None
