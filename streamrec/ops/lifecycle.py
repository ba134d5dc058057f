"""Deploy, savepoint, upgrade and rescale the recommendation job on the stack's Flink cluster.

Upgrades and rescales go through a stop-with-savepoint and a resubmission from it, the way
Flink users move a job's state between versions and parallelisms: keyed user state is
redistributed by key group, and the serving model and rules come back from broadcast state
with no re-publishing. Every step that waits reports progress through ``tick``, and every
failure says which job, what state it was in and what to do next.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests

from streamrec.jobs import recommend
from streamrec.ops.deployments import Deployment, SavepointRecord
from streamrec.ops.errors import JobNotRunningError, JobOperationError
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.errors import StackError
from streamrec.stack.keys import public_key_path
from streamrec.stack.services.flink import FlinkService

Tick = Callable[[str], None]
"""Called with a one-line status while an operation waits (drives the progress display)."""

ACTIVE_STATES = frozenset(
    {"INITIALIZING", "CREATED", "RUNNING", "RESTARTING", "FAILING", "CANCELLING",
     "RECONCILING", "SUSPENDED"}
)  # fmt: skip
ENDED_STATES = frozenset({"FINISHED", "CANCELED", "FAILED"})


def dashboard_url(config: StackConfig, job_id: str) -> str:
    return f"{config.flink_rest_url}/#/job/running/{job_id}/overview"


def stack_job_args(config: StackConfig, name: str) -> list[str]:
    """What the stack decides: where the servers are, names tied to the job's name, and the
    public key that model references must be signed with (``stack up`` creates it)."""
    return [
        "--bootstrap", config.kafka_bootstrap,
        "--cassandra", f"127.0.0.1:{config.cassandra_port}",
        "--keyspace", config.keyspace,
        "--job-name", name,
        "--group-id", name,
        "--model-public-key", str(public_key_path(config)),
    ]  # fmt: skip


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


SAVEPOINT_NAME = re.compile(r"savepoint-[0-9a-f]{6}-[0-9a-f]{12}")
"""How Flink names a savepoint directory: the job id's first 6 hex digits and 12 random ones."""

CHECKPOINT_NAME = re.compile(r"chk-(\d+)")


def restore_sources(config: StackConfig) -> set[Path] | None:
    """Local paths the active jobs of the cluster were restored from; None if Flink would
    not say for every one of them (then nothing may be deleted)."""
    sources: set[Path] = set()
    try:
        for job in flink_client.jobs_overview(config):
            if job["state"] not in ACTIVE_STATES:
                continue
            latest = flink_client.latest_checkpoints(config, str(job["jid"])).get("latest") or {}
            path = local_path(str((latest.get("restored") or {}).get("external_path") or ""))
            if path is not None and path.parts:
                sources.add(path.resolve())
    except (StackError, requests.RequestException):
        return None
    return sources


def deletable_savepoint(location: str, root: Path, in_use: set[Path]) -> Path | None:
    """``location`` if it is a savepoint Flink completed directly under ``root`` and no
    active job was restored from it; None for anything else (left alone)."""
    path = local_path(location)
    if path is None or path.is_symlink() or not path.is_dir():
        return None
    path = path.resolve()
    if path.parent != root or not SAVEPOINT_NAME.fullmatch(path.name):
        return None
    if not (path / "_metadata").is_file() or path in in_use:
        return None
    return path


def prune_savepoints(config: StackConfig, name: str, keep: int) -> list[SavepointRecord]:
    """Delete the savepoints of ``name`` older than its newest ``keep`` (0: keep all).

    Only savepoints this job's deployment record lists are candidates, so a savepoint taken
    by hand (`flink savepoint`) or by another job is never touched; see
    :func:`deletable_savepoint` for the rest. Returns the records of those deleted.
    """
    deployment = Deployment.load(config, name)
    if keep <= 0 or deployment is None or len(deployment.savepoints) <= keep:
        return []
    in_use = restore_sources(config)
    if in_use is None:
        return []
    root = FlinkService(config).savepoint_dir.resolve()
    ordered = sorted(deployment.savepoints, key=lambda record: record.taken_ms)
    deleted = []
    for record in ordered[:-keep]:
        path = deletable_savepoint(record.path, root, in_use)
        if path is not None:
            shutil.rmtree(path)
            deleted.append(record)
    if deleted:
        deployment.savepoints = [r for r in deployment.savepoints if r not in deleted]
        deployment.save(config)
    return deleted


@dataclass(frozen=True)
class RetainedCheckpoint:
    path: str
    kind: str
    """``checkpoint`` or ``savepoint``."""
    what: str
    """``checkpoint 42``, ``savepoint 43``, or ``the savepoint it was restored from``."""
    taken_ms: int | None
    """When this job completed it; None for what it was restored from."""


@dataclass(frozen=True)
class Cancellation:
    job_id: str
    state_before: str
    final_state: str
    last_failure: str | None
    """Root cause of the newest failure the job restarted after, if any."""
    resume_from: RetainedCheckpoint | None


def resumable(location: str) -> bool:
    """A local checkpoint or savepoint must still have its ``_metadata``; others are
    trusted (nothing here can check an object store)."""
    path = local_path(location)
    return path is None or (path / "_metadata").is_file()


def checkpoint_on_disk(config: StackConfig, job_id: str) -> RetainedCheckpoint | None:
    """The highest-numbered complete ``chk-N`` of ``job_id`` in the stack's checkpoint dir."""
    found = []
    for directory in (FlinkService(config).checkpoint_dir / job_id).glob("chk-*"):
        match = CHECKPOINT_NAME.fullmatch(directory.name)
        metadata = directory / "_metadata"
        if match and metadata.is_file():
            found.append((int(match.group(1)), directory, metadata.stat().st_mtime))
    if not found:
        return None
    number, directory, mtime = max(found)
    return RetainedCheckpoint(
        f"file:{directory}", "checkpoint", f"checkpoint {number}", int(mtime * 1000)
    )


def retained_checkpoint(config: StackConfig, job_id: str) -> RetainedCheckpoint | None:
    """What an ended job can be resumed from: its newest retained checkpoint or savepoint,
    else the savepoint or checkpoint it was itself restored from; None if there is none.

    A savepoint newer than every checkpoint wins: it committed the Kafka transactions up to
    it, so resuming from the older checkpoint would emit that stretch a second time.
    """
    try:
        latest = flink_client.latest_checkpoints(config, job_id).get("latest") or {}
    except requests.HTTPError:
        latest = {}
    # Checkpoints and savepoints of one job share the id counter: the higher id is newer.
    found = [
        (int(entry.get("id") or 0), kind, entry)
        for kind, entry in (
            ("checkpoint", latest.get("completed")),
            ("savepoint", latest.get("savepoint")),
        )
        if entry and entry.get("external_path") and resumable(str(entry["external_path"]))
    ]
    if found:
        number, kind, entry = max(found, key=lambda f: f[0])
        return RetainedCheckpoint(
            str(entry["external_path"]), kind, f"{kind} {number}", entry.get("latest_ack_timestamp")
        )
    on_disk = checkpoint_on_disk(config, job_id)
    if on_disk is not None:
        return on_disk
    restored = latest.get("restored") or {}
    path = restored.get("external_path")
    if path and resumable(str(path)):
        kind = "savepoint" if restored.get("is_savepoint") else "checkpoint"
        return RetainedCheckpoint(str(path), kind, f"the {kind} it was restored from", None)
    return None


def cancel(config: StackConfig, name: str, *, tick: Tick, timeout_s: float = 240.0) -> Cancellation:
    """Cancel the active job ``name`` without a savepoint and wait until it has ended.

    For a job that cannot take a savepoint (RESTARTING in a loop, a task stuck): what it
    did since its newest retained checkpoint is not saved, and resuming from that
    checkpoint re-reads the input from there.
    """
    jobs = active_jobs(config, name)
    if not jobs:
        raise no_job_error(config, name, "active")
    job = max(jobs, key=lambda j: j["start-time"])
    job_id, before = str(job["jid"]), str(job["state"])
    history = flink_client.exception_history(config, job_id)
    last_failure = flink_client.root_cause(history[0].get("stacktrace") or "") if history else None
    tick(f"cancelling {name} ({job_id}), {before}")
    flink_client.cancel_job(config, job_id)

    def check() -> tuple[str | None, str]:
        state = flink_client.job_state(config, job_id)
        return (state if state in ENDED_STATES else None), str(state)

    # Flink kills a TaskManager whose tasks ignore the cancel after task.cancellation.timeout
    # (180 s), so the job ends within the timeout unless something else is wrong.
    final = wait(
        f"job {job_id} to be cancelled",
        check,
        timeout_s,
        tick,
        fix=f"check it with `streamrec job status --name {name}` and `streamrec stack logs flink`",
    )
    return Cancellation(
        job_id, before, str(final), last_failure, retained_checkpoint(config, job_id)
    )


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
            FlinkService(config).restart_taskmanager()
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
