"""Savepoint and checkpoint retention: what a job can be resumed from, cancelling a job
without a savepoint (naming the checkpoint to resume from), and deleting old savepoints.

Split from :mod:`streamrec.ops.lifecycle`, whose deploy/savepoint/resubmit steps these
build on; nothing there depends on this module.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import requests

from streamrec.ops.deployments import Deployment, SavepointRecord
from streamrec.ops.lifecycle import (
    ACTIVE_STATES,
    ENDED_STATES,
    Tick,
    active_jobs,
    local_path,
    no_job_error,
    wait,
)
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.errors import StackError
from streamrec.stack.services.flink import FlinkService

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


def checkpoint_on_disk(config: StackConfig, job_id: str) -> tuple[int, RetainedCheckpoint] | None:
    """The highest-numbered complete ``chk-N`` of ``job_id`` in the stack's checkpoint dir,
    with its number."""
    found = []
    for directory in (FlinkService(config).checkpoint_dir / job_id).glob("chk-*"):
        match = CHECKPOINT_NAME.fullmatch(directory.name)
        metadata = directory / "_metadata"
        if match and metadata.is_file():
            found.append((int(match.group(1)), directory, metadata.stat().st_mtime))
    if not found:
        return None
    number, directory, mtime = max(found)
    return number, RetainedCheckpoint(
        f"file:{directory}", "checkpoint", f"checkpoint {number}", int(mtime * 1000)
    )


def retained_checkpoint(config: StackConfig, job_id: str) -> RetainedCheckpoint | None:
    """What an ended job can be resumed from: its newest retained checkpoint or savepoint,
    else the savepoint or checkpoint it was itself restored from; None if there is none.

    Newest, because the Kafka transactions of every checkpoint that completed have been
    committed: resuming from anything older would emit that stretch a second time. The
    checkpoint directory on disk is read as well as Flink's REST statistics, which the
    JobManager caches (``rest.cache.checkpoint-statistics.timeout``, 3 s): a checkpoint
    that completes just before a cancel can be missing from them. An intermediate
    savepoint commits nothing itself; resuming from it commits the transactions it holds.
    """
    try:
        latest = flink_client.latest_checkpoints(config, job_id).get("latest") or {}
    except requests.HTTPError:
        latest = {}
    # Checkpoints and savepoints of one job share the id counter: the higher id is newer.
    found: list[tuple[int, RetainedCheckpoint]] = []
    for kind, entry in (
        ("checkpoint", latest.get("completed")),
        ("savepoint", latest.get("savepoint")),
    ):
        path = str((entry or {}).get("external_path") or "")
        if entry and path and resumable(path):
            number = int(entry.get("id") or 0)
            when = entry.get("latest_ack_timestamp")
            found.append((number, RetainedCheckpoint(path, kind, f"{kind} {number}", when)))
    on_disk = checkpoint_on_disk(config, job_id)
    if on_disk is not None:
        found.append(on_disk)
    if found:
        # On a tie (the same checkpoint from both) the REST entry, listed first, is kept.
        return max(found, key=lambda f: f[0])[1]
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
