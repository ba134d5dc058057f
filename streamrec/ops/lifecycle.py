"""Deploy, savepoint, upgrade and rescale the recommendation job on the stack's Flink cluster.

Upgrades and rescales go through a stop-with-savepoint and a resubmission from it, the way
Flink users move a job's state between versions and parallelisms: keyed user state is
redistributed by key group, and the serving model and rules come back from broadcast state
with no re-publishing. Every step that waits reports progress through ``tick``, and every
failure says which job, what state it was in and what to do next. Cancelling without a
savepoint and deleting old savepoints live in :mod:`streamrec.ops.retention`.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests

from streamrec.job_config.flags import to_args
from streamrec.job_config.settings import JobConfig, ModelIntake
from streamrec.jobs import recommend
from streamrec.ops.deployments import Deployment, SavepointRecord
from streamrec.ops.errors import JobNotRunningError, JobOperationError
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.errors import StackError
from streamrec.stack.keys import public_key_path

Tick = Callable[[str], None]
"""Called with a one-line status while an operation waits (drives the progress display)."""

ACTIVE_STATES = frozenset(
    {"INITIALIZING", "CREATED", "RUNNING", "RESTARTING", "FAILING", "CANCELLING",
     "RECONCILING", "SUSPENDED"}
)  # fmt: skip
ENDED_STATES = frozenset({"FINISHED", "CANCELED", "FAILED"})


def dashboard_url(config: StackConfig, job_id: str) -> str:
    return f"{config.flink_rest_url}/#/job/running/{job_id}/overview"


def stack_job_config(config: StackConfig, name: str) -> JobConfig:
    """What the stack decides: where the servers are, names tied to the job's name, and the
    public key that model references must be signed with (``stack up`` creates it)."""
    return JobConfig(
        bootstrap=config.kafka_bootstrap,
        cassandra=f"127.0.0.1:{config.cassandra_port}",
        keyspace=config.keyspace,
        job_name=name,
        group_id=name,
        models=ModelIntake(public_keys=(str(public_key_path(config)),)),
    )


def stack_job_args(config: StackConfig, name: str) -> list[str]:
    """``stack_job_config`` as flags; only what differs from the job's defaults is written."""
    return to_args(stack_job_config(config, name), changed_only=True)


def validate_job_args(config: StackConfig, name: str, job_args: Sequence[str]) -> None:
    """Parse the arguments here, before anything is submitted or stopped."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            recommend.parse_args([*stack_job_args(config, name), *job_args])
    except SystemExit as exc:
        message = stderr.getvalue().strip().splitlines()
        raise JobOperationError(
            f"bad job argument(s) {' '.join(job_args)}: {message[-1] if message else exc}; "
            "see `python streamrec/jobs/recommend.py --help`"
        ) from None


def wait(
    what: str,
    check: Callable[[], tuple[Any, str]],
    timeout_s: float,
    tick: Tick,
    fix: str = "",
) -> Any:
    """Poll ``check`` (-> (result or None, status)) until a result, ticking the status.

    ``fix`` ends the timeout's message: what the user can do about it.
    """
    started = time.monotonic()
    while True:
        result, status = check()
        elapsed = time.monotonic() - started
        tick(f"{what}: {status} ({elapsed:.0f} s)")
        if result is not None:
            return result
        if elapsed > timeout_s:
            raise JobOperationError(
                f"{what} did not finish within {timeout_s:.0f} s ({status})"
                + (f"; {fix}" if fix else "")
            )
        time.sleep(0.5)


def active_jobs(config: StackConfig, name: str) -> list[dict[str, Any]]:
    return [
        job
        for job in flink_client.jobs_overview(config)
        if job["name"] == name and job["state"] in ACTIVE_STATES
    ]


def cancel_hint(name: str) -> str:
    return (
        f"stop it without a savepoint with `streamrec job cancel --name {name}` "
        "(it names the checkpoint to resume from)"
    )


def no_job_error(config: StackConfig, name: str, what: str) -> JobNotRunningError:
    ended = [j for j in flink_client.jobs_overview(config) if j["name"] == name]
    last = f" (its last run, {ended[-1]['jid']}, is {ended[-1]['state']})" if ended else ""
    return JobNotRunningError(
        f"no job named {name!r} is {what} on {config.flink_rest_url}{last}; "
        "start it with `streamrec job deploy`"
    )


def running_job_id(config: StackConfig, name: str) -> str:
    """The id of the job called ``name``, which must be RUNNING with every task running."""
    jobs = active_jobs(config, name)
    if not jobs:
        raise no_job_error(config, name, "running")
    job_id = str(jobs[0]["jid"])
    if not flink_client.all_tasks_running(config, job_id):
        raise JobNotRunningError(
            f"job {name!r} ({job_id}) is {jobs[0]['state']} and not all of its tasks run, so "
            f"it cannot take a savepoint; wait for it ({dashboard_url(config, job_id)}), or "
            + cancel_hint(name)
        )
    return job_id


def failure_reason(config: StackConfig, job_id: str) -> str:
    """The newest exception the job reported, reduced to its root cause."""
    history = flink_client.exception_history(config, job_id)
    if not history:
        return "(no exception recorded)"
    return flink_client.root_cause(history[0].get("stacktrace") or "")


def wait_until_running(config: StackConfig, job_id: str, tick: Tick, timeout_s: float) -> None:
    def check() -> tuple[bool | None, str]:
        details = flink_client.job_details(config, job_id)
        state = details["state"]
        if state in ENDED_STATES:
            raise JobOperationError(
                f"job {job_id} ended as {state} while starting: {failure_reason(config, job_id)}"
            )
        statuses = [v["status"] for v in details["vertices"]]
        running = sum(s == "RUNNING" for s in statuses)
        done = flink_client.tasks_running(details)
        return (True if done else None), f"{state}, {running}/{len(statuses)} tasks running"

    wait(f"job {job_id}", check, timeout_s, tick)


def deploy(
    config: StackConfig,
    name: str,
    job_args: Sequence[str],
    *,
    parallelism: int,
    from_savepoint: str | None = None,
    tick: Tick,
    timeout_s: float = 300.0,
) -> Deployment:
    """Submit ``recommend.py`` as ``name`` (refused if one runs) and wait until it runs."""
    check_parallelism(config, parallelism, freed_slots=0)
    clash = active_jobs(config, name)
    if clash:
        raise JobOperationError(
            f"job {name!r} is already {clash[0]['state']} as {clash[0]['jid']}; change it "
            "with `streamrec job upgrade` / `rescale`, or stop it with `streamrec job stop`"
        )
    if from_savepoint is not None:
        local = local_path(from_savepoint)
        if local is not None and not local.exists():
            raise JobOperationError(f"savepoint {from_savepoint} does not exist")
    tick(f"submitting {name} (parallelism {parallelism})")
    job_id = flink_client.submit_python_job(
        config,
        Path(recommend.__file__),
        [*stack_job_args(config, name), *job_args],
        parallelism=parallelism,
        from_savepoint=from_savepoint,
    )
    wait_until_running(config, job_id, tick, timeout_s)
    previous = Deployment.load(config, name)
    deployment = Deployment(
        name, job_id, parallelism, list(job_args), previous.savepoints if previous else []
    )
    deployment.save(config)
    return deployment


def check_parallelism(config: StackConfig, parallelism: int, freed_slots: int) -> None:
    """Refuse, before anything is stopped, a parallelism the cluster cannot run."""
    most = recommend.MAX_PARALLELISM
    if not 1 <= parallelism <= most:
        raise JobOperationError(
            f"parallelism must be between 1 and {most} (the job's max parallelism, fixed so"
            f" that savepoints stay restorable); got {parallelism}"
        )
    overview = flink_client.rest_get(config, "/overview")
    free = int(overview["slots-available"]) + freed_slots
    if parallelism > free:
        raise JobOperationError(
            f"parallelism {parallelism} needs {parallelism} free task slots; the cluster would "
            f"have {free} of {overview['slots-total']} (raise taskmanager.numberOfTaskSlots in "
            "flink-conf/config.yaml, or stop other jobs)"
        )


def local_path(location: str) -> Path | None:
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path)
    return None


def directory_bytes(location: str) -> int:
    path = local_path(location)
    if path is None or not path.exists():
        return 0
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def take_savepoint(
    config: StackConfig,
    name: str,
    *,
    stop: bool,
    reason: str,
    tick: Tick,
    native_format: bool = False,
    timeout_s: float = 300.0,
) -> SavepointRecord:
    """A savepoint of the running job ``name`` (``stop``: then the job finishes)."""
    job_id = running_job_id(config, name)
    started = time.monotonic()
    try:
        trigger = flink_client.trigger_savepoint(
            config, job_id, stop=stop, native_format=native_format
        )
    except StackError as exc:
        if not stop:
            raise
        raise JobOperationError(f"{exc}; retry, or {cancel_hint(name)}") from exc

    def check() -> tuple[str | None, str]:
        try:
            location = flink_client.savepoint_result(config, job_id, trigger)
        except (StackError, requests.RequestException) as exc:
            raise JobOperationError(
                f"{exc}. The job keeps running"
                + (f" (it was not stopped); retry, or {cancel_hint(name)}" if stop else "")
            ) from exc
        return location, "writing" if location is None else "completed"

    location = wait(
        f"savepoint of {name} ({job_id})",
        check,
        timeout_s,
        tick,
        fix=f"retry, or {cancel_hint(name)}" if stop else "",
    )
    if stop:
        wait(
            f"job {job_id} to finish",
            lambda: (
                (True, "finished")
                if (state := flink_client.job_state(config, job_id)) in ENDED_STATES
                else (None, str(state))
            ),
            120,
            tick,
        )
    record = SavepointRecord(
        job_id=job_id,
        path=location,
        size_bytes=directory_bytes(location),
        duration_s=round(time.monotonic() - started, 2),
        taken_ms=int(time.time() * 1000),
        reason=reason,
    )
    deployment = Deployment.load(config, name)
    if deployment is not None:
        deployment.savepoints.append(record)
        deployment.save(config)
    return record


@dataclass(frozen=True)
class Resubmission:
    savepoint: SavepointRecord
    deployment: Deployment
    restore_s: float
    """From the end of the savepoint to every task of the new job running."""


def resubmit(
    config: StackConfig,
    name: str,
    *,
    job_args: Sequence[str] = (),
    parallelism: int | None = None,
    restart_taskmanager: bool = False,
    reason: str,
    tick: Tick,
) -> Resubmission:
    """Stop ``name`` with a savepoint, then submit it again from there.

    ``job_args`` are added to those it was deployed with (later ones win), ``parallelism``
    replaces its parallelism. If the new submission fails, the old job stays stopped and
    the error names the savepoint to resume it from.
    """
    deployment = Deployment.load(config, name)
    if deployment is None:
        raise JobOperationError(
            f"no deployment record for {name!r} under {config.data_dir / 'jobs'}; "
            "jobs are upgraded only if `streamrec job deploy` started them"
        )
    job_id = running_job_id(config, name)
    new_parallelism = parallelism or deployment.parallelism
    current = flink_client.parallelism(flink_client.job_details(config, job_id))
    check_parallelism(config, new_parallelism, freed_slots=current)
    savepoint = take_savepoint(config, name, stop=True, reason=reason, tick=tick)
    restore_started = time.monotonic()
    try:
        if restart_taskmanager:
            tick("restarting the TaskManager so workers import the new code")
            restart_taskmanager(config)
        new = deploy(
            config,
            name,
            [*deployment.job_args, *job_args],
            parallelism=new_parallelism,
            from_savepoint=savepoint.path,
            tick=tick,
        )
    except Exception as exc:
        raise JobOperationError(
            f"{exc}\nThe previous job {job_id} is stopped; resume it unchanged with "
            f"`streamrec job deploy --name {name} --from-savepoint {savepoint.path}`"
        ) from exc
    return Resubmission(savepoint, new, round(time.monotonic() - restore_started, 2))


@dataclass(frozen=True)
class JobStatus:
    name: str
    job_id: str
    state: str
    parallelism: int
    start_ms: int
    restarts: int
    checkpoints: dict[str, Any]
    deployment: Deployment | None
    dashboard: str


def job_status(config: StackConfig, name: str) -> JobStatus:
    """The newest job called ``name``, active or not."""
    jobs = [j for j in flink_client.jobs_overview(config) if j["name"] == name]
    if not jobs:
        raise JobNotRunningError(
            f"Flink at {config.flink_rest_url} has no job named {name!r}; "
            "start it with `streamrec job deploy`"
        )
    job = max(jobs, key=lambda j: (j["state"] in ACTIVE_STATES, j["start-time"]))
    job_id = str(job["jid"])
    details = flink_client.job_details(config, job_id)
    return JobStatus(
        name=name,
        job_id=job_id,
        state=str(job["state"]),
        parallelism=flink_client.parallelism(details),
        start_ms=int(job["start-time"]),
        restarts=restart_count(config, job_id),
        checkpoints=flink_client.latest_checkpoints(config, job_id),
        deployment=Deployment.load(config, name),
        dashboard=dashboard_url(config, job_id),
    )


def restart_count(config: StackConfig, job_id: str) -> int:
    """Failures the job restarted after, from its exception history (at most 16).

    Not the ``numRestarts`` metric: Flink 2's adaptive scheduler resets it on every restart.
    """
    return len(flink_client.exception_history(config, job_id))


def restarted_since(config: StackConfig, job_id: str, since_ms: int) -> bool:
    """The job entered RESTARTING at or after ``since_ms`` and every task runs again."""
    details = flink_client.job_details(config, job_id)
    restarting_ms = int(details.get("timestamps", {}).get("RESTARTING", 0))
    return restarting_ms >= since_ms and flink_client.tasks_running(details)
