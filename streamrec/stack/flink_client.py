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


def unreachable(config: StackConfig) -> StackError:
    return StackError(
        f"Flink is not reachable at {config.flink_rest_url}; start it with "
        "`streamrec stack up flink` (or pass the right --flink-rest-port)"
    )


def rest_get(config: StackConfig, path: str, params: dict[str, Any] | None = None) -> Any:
    """GET a Flink REST resource; an unreachable cluster is a StackError with the fix."""
    try:
        response = requests.get(f"{config.flink_rest_url}{path}", params=params, timeout=10)
    except requests.ConnectionError as exc:
        raise unreachable(config) from exc
    response.raise_for_status()
    return response.json()


def rest_patch(config: StackConfig, path: str, params: dict[str, Any] | None = None) -> int:
    """PATCH a Flink REST resource; returns the HTTP status, a refusal is a StackError."""
    try:
        response = requests.patch(f"{config.flink_rest_url}{path}", params=params, timeout=10)
    except requests.ConnectionError as exc:
        raise unreachable(config) from exc
    if response.status_code not in (200, 202):
        raise StackError(
            f"Flink refused PATCH {path}: HTTP {response.status_code} {rest_error(response)}"
        )
    return response.status_code


def jobs_overview(config: StackConfig) -> list[dict[str, Any]]:
    return list(rest_get(config, "/jobs/overview")["jobs"])


def job_state(config: StackConfig, job_id: str) -> str | None:
    for job in jobs_overview(config):
        if job["jid"] == job_id:
            return str(job["state"])
    return None


def taskmanager_ids(config: StackConfig) -> list[str]:
    """Ids of the TaskManagers registered with the JobManager."""
    return [str(tm["id"]) for tm in rest_get(config, "/taskmanagers")["taskmanagers"]]


def job_details(config: StackConfig, job_id: str) -> dict[str, Any]:
    return dict(rest_get(config, f"/jobs/{job_id}"))


def tasks_running(details: dict[str, Any]) -> bool:
    """RUNNING at job level is not enough: a source still DEPLOYING reads nothing."""
    return details["state"] == "RUNNING" and all(
        v["status"] == "RUNNING" for v in details["vertices"]
    )


def all_tasks_running(config: StackConfig, job_id: str) -> bool:
    return tasks_running(job_details(config, job_id))


def parallelism(details: dict[str, Any]) -> int:
    """The job's parallelism: that of its widest vertex (0 before it has any)."""
    return max((v["parallelism"] for v in details["vertices"]), default=0)


def exception_history(config: StackConfig, job_id: str) -> list[dict[str, Any]]:
    """The failures the job restarted after, newest first; empty if Flink has none to give.

    Holds at most ``web.exception-history-size`` (16) entries.
    """
    try:
        body = rest_get(config, f"/jobs/{job_id}/exceptions", {"maxExceptions": 100})
    except requests.HTTPError:
        return []
    return list((body.get("exceptionHistory") or {}).get("entries") or [])


def cancel_job(config: StackConfig, job_id: str) -> None:
    """Ask Flink to cancel the job (no savepoint); it is CANCELED once its tasks stopped."""
    rest_patch(config, f"/jobs/{job_id}", {"mode": "cancel"})


def operator_metric(
    config: StackConfig, job_id: str, operator: str, metric: str, agg: str = "sum"
) -> float | None:
    """A user metric of ``operator`` over its subtasks, aggregated by ``agg`` (sum, min,
    max or avg); None until every vertex has been asked and none reported it.

    Looks through every vertex, since chaining decides which vertex holds the operator.
    """
    for vertex in job_details(config, job_id)["vertices"]:
        entries = rest_get(
            config,
            f"/jobs/{job_id}/vertices/{vertex['id']}/subtasks/metrics",
            {"get": f"{operator}.{metric}", "agg": agg},
        )
        for entry in entries:
            if entry.get("id") == f"{operator}.{metric}" and agg in entry:
                return float(entry[agg])
    return None


def trigger_savepoint(
    config: StackConfig,
    job_id: str,
    *,
    stop: bool,
    target_dir: str | None = None,
    native_format: bool = False,
) -> str:
    """Start a savepoint (``stop``: stop-with-savepoint); return the trigger id to poll.

    Canonical format is the default: unlike native, it can be restored under another
    state backend, and with any parallelism up to the job's max parallelism.
    """
    fmt = "NATIVE" if native_format else "CANONICAL"
    if stop:
        url = f"{config.flink_rest_url}/jobs/{job_id}/stop"
        body: dict[str, Any] = {"drain": False, "formatType": fmt}
        if target_dir:
            body["targetDirectory"] = target_dir
    else:
        url = f"{config.flink_rest_url}/jobs/{job_id}/savepoints"
        body = {"cancel-job": False, "formatType": fmt}
        if target_dir:
            body["target-directory"] = target_dir
    response = requests.post(url, json=body, timeout=10)
    if response.status_code not in (200, 202):
        raise StackError(
            f"Flink refused the savepoint of job {job_id}: HTTP {response.status_code} "
            f"{rest_error(response)}"
        )
    return str(response.json()["request-id"])


def savepoint_result(config: StackConfig, job_id: str, trigger_id: str) -> str | None:
    """The savepoint's location once completed, None while in progress.

    Raises :class:`StackError` with Flink's root cause when it failed.
    """
    body = rest_get(config, f"/jobs/{job_id}/savepoints/{trigger_id}")
    if body["status"]["id"] != "COMPLETED":
        return None
    operation = body.get("operation") or {}
    if "location" in operation:
        return str(operation["location"])
    cause = operation.get("failure-cause") or {}
    raise StackError(
        f"savepoint of job {job_id} failed: {root_cause(cause.get('stack-trace', ''))}"
    )


def latest_checkpoints(config: StackConfig, job_id: str) -> dict[str, Any]:
    """Checkpoint counts and the latest completed/restored checkpoint (``/checkpoints``)."""
    return dict(rest_get(config, f"/jobs/{job_id}/checkpoints"))


def rest_error(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors", [])
    except ValueError:
        return response.text[:500]
    return root_cause("\n".join(str(e) for e in errors)) if errors else response.text[:500]


PYTHON_TRACEBACK = "Traceback (most recent call last):"
PYTHON_ERROR = re.compile(r"[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)(: .*)?")


def root_cause(stack_trace: str) -> str:
    """The last ``Caused by:`` line of a Java stack trace: usually the one that says why.

    When that line only announces a Python traceback (a failing PyFlink function), the
    Python exception line at the traceback's end is put in its place.
    """
    lines = [line.strip() for line in stack_trace.splitlines() if line.strip()]
    if not lines:
        return "(Flink gave no reason)"
    causes = [n for n, line in enumerate(lines) if line.startswith("Caused by:")]
    at = causes[-1] if causes else 0
    cause = lines[at].removeprefix("Caused by: ")
    if cause.endswith(PYTHON_TRACEBACK):
        python = python_error(lines[at + 1 :])
        if python:
            cause = f"{cause.removesuffix(PYTHON_TRACEBACK).rstrip()} {python}"
    return cause


def python_error(lines: Sequence[str]) -> str | None:
    """The last ``SomeError: message`` line before the Java frames resume."""
    found = None
    for line in lines:
        if line.startswith(("at ", "Caused by:")):
            break
        if PYTHON_ERROR.fullmatch(line):
            found = line
    return found
