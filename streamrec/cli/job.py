"""``streamrec job deploy | savepoint | stop | cancel | upgrade | rescale | status``.

The recommendation job's lifecycle on the stack's Flink cluster, by job name. Arguments for
``recommend.py`` follow ``--``: ``streamrec job deploy -- --k 10 --checkpoint-interval-ms 5000``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from streamrec.cli.errors import user_errors
from streamrec.cli.progress import Progress
from streamrec.cli.stack import stack_options
from streamrec.job_config.settings import JobConfig
from streamrec.ops import lifecycle, retention
from streamrec.ops.deployments import SavepointRecord
from streamrec.stack.config import StackConfig

DEFAULT_NAME = JobConfig.job_name
PASS_THROUGH = {"ignore_unknown_options": True}
DEFAULT_KEEP_SAVEPOINTS = 5


def name_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--name", default=DEFAULT_NAME, show_default=True, help="The Flink job name."
    )(func)


def job_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Stack location, job name, and errors as one clean line: every command has them."""
    return stack_options(name_option(user_errors(func)))


def job_args_argument(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("job_args", nargs=-1, type=click.UNPROCESSED)(func)


def keep_savepoints_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--keep-savepoints",
        type=click.IntRange(min=0),
        default=DEFAULT_KEEP_SAVEPOINTS,
        envvar="STREAMREC_KEEP_SAVEPOINTS",
        show_default=True,
        help="Then delete this job's older savepoints, keeping the newest N (0: keep all). "
        "Never one a running job was restored from [env STREAMREC_KEEP_SAVEPOINTS].",
    )(func)


def prune(config: StackConfig, name: str, keep: int) -> None:
    deleted = retention.prune_savepoints(config, name, keep)
    if deleted:
        click.echo(
            f"deleted {len(deleted)} older savepoint(s) of {name}, keeping the newest {keep}:"
        )
        for record in deleted:
            click.echo(f"  {record.path}")


def describe(savepoint: SavepointRecord) -> str:
    return (
        f"savepoint {savepoint.path}\n"
        f"  {savepoint.size_bytes / 1024:.0f} KiB, taken in {savepoint.duration_s:.1f} s "
        f"from job {savepoint.job_id}"
    )


@click.group()
def job() -> None:
    """Deploy and operate the recommendation job (savepoints, upgrades, rescaling)."""


@job.command(context_settings=PASS_THROUGH)
@job_options
@click.option("--parallelism", "-p", default=1, show_default=True, type=int)
@click.option("--from-savepoint", default=None, help="Resume from this savepoint path.")
@job_args_argument
def deploy(
    data_dir: Path | None,
    name: str,
    parallelism: int,
    from_savepoint: str | None,
    job_args: tuple[str, ...],
    **ports: int | None,
) -> None:
    """Submit the job and wait until every task runs."""
    config = StackConfig.for_data_dir(data_dir, **ports)
    lifecycle.validate_job_args(config, name, job_args)
    progress = Progress()
    deployment = lifecycle.deploy(
        config,
        name,
        job_args,
        parallelism=parallelism,
        from_savepoint=from_savepoint,
        tick=progress,
    )
    progress.done(f"job {name} RUNNING as {deployment.job_id} (parallelism {parallelism})")
    click.echo(f"dashboard: {lifecycle.dashboard_url(config, deployment.job_id)}")


@job.command()
@job_options
@click.option("--native", is_flag=True, help="Native format: faster, but same backend only.")
@keep_savepoints_option
def savepoint(
    data_dir: Path | None, name: str, native: bool, keep_savepoints: int, **ports: int | None
) -> None:
    """Take a savepoint; the job keeps running."""
    config = StackConfig.for_data_dir(data_dir, **ports)
    progress = Progress()
    record = lifecycle.take_savepoint(
        config, name, stop=False, reason="savepoint", tick=progress, native_format=native
    )
    progress.done(describe(record))
    prune(config, name, keep_savepoints)


@job.command()
@job_options
@click.option(
    "--no-savepoint",
    is_flag=True,
    help="Cancel instead, like `streamrec job cancel`: for a job that cannot take a savepoint.",
)
@keep_savepoints_option
def stop(
    data_dir: Path | None,
    name: str,
    no_savepoint: bool,
    keep_savepoints: int,
    **ports: int | None,
) -> None:
    """Stop the job with a savepoint (resume it with `deploy --from-savepoint`)."""
    config = StackConfig.for_data_dir(data_dir, **ports)
    if no_savepoint:
        cancel_job(config, name)
        return
    progress = Progress()
    record = lifecycle.take_savepoint(config, name, stop=True, reason="stop", tick=progress)
    progress.done(f"job {name} ({record.job_id}) stopped\n{describe(record)}")
    click.echo(f"resume with: streamrec job deploy --name {name} --from-savepoint {record.path}")
    prune(config, name, keep_savepoints)


@job.command()
@job_options
def cancel(data_dir: Path | None, name: str, **ports: int | None) -> None:
    """Cancel the job without a savepoint, e.g. one RESTARTING in a loop.

    What the job did since its newest retained checkpoint is not saved; the command names
    that checkpoint, and deploying from it re-reads the input from there.
    """
    cancel_job(StackConfig.for_data_dir(data_dir, **ports), name)


def cancel_job(config: StackConfig, name: str) -> None:
    progress = Progress()
    result = retention.cancel(config, name, tick=progress)
    progress.done(
        f"job {name} ({result.job_id}) {result.final_state} (it was {result.state_before}); "
        "no savepoint was taken"
    )
    if result.last_failure:
        click.echo(f"its last failure: {result.last_failure}")
    resume = result.resume_from
    if resume is None:
        click.echo(
            "no checkpoint of it was retained: what it held is lost; "
            f"`streamrec job deploy --name {name}` starts it without state"
        )
        return
    age = (
        f" ({time.time() - resume.taken_ms / 1000:.0f} s before the cancel)"
        if resume.taken_ms
        else ""
    )
    again = " (the input it failed on too)" if result.last_failure else ""
    click.echo(
        f"state since {resume.what}{age} is not saved; resuming from it re-reads the input "
        f"from there{again}"
    )
    click.echo(f"newest retained {resume.kind}: {resume.path}")
    click.echo(f"resume with: streamrec job deploy --name {name} --from-savepoint {resume.path}")


def report(config: StackConfig, name: str, result: lifecycle.Resubmission) -> None:
    click.echo(describe(result.savepoint))
    click.echo(
        f"job {name} RUNNING as {result.deployment.job_id} (parallelism "
        f"{result.deployment.parallelism}), {result.restore_s:.1f} s after the savepoint"
    )
    click.echo(f"dashboard: {lifecycle.dashboard_url(config, result.deployment.job_id)}")


@job.command(context_settings=PASS_THROUGH)
@job_options
@click.option("--parallelism", "-p", default=None, type=int, help="Default: unchanged.")
@click.option(
    "--restart-taskmanager",
    is_flag=True,
    help="Restart the TaskManager between stop and submit. Needed when the streamrec "
    "package itself changed: thread-mode workers keep modules loaded.",
)
@keep_savepoints_option
@job_args_argument
def upgrade(
    data_dir: Path | None,
    name: str,
    parallelism: int | None,
    restart_taskmanager: bool,
    keep_savepoints: int,
    job_args: tuple[str, ...],
    **ports: int | None,
) -> None:
    """Stop with a savepoint and resubmit the current code from it.

    JOB_ARGS after `--` are added to those the job was deployed with (later ones win).
    """
    config = StackConfig.for_data_dir(data_dir, **ports)
    lifecycle.validate_job_args(config, name, job_args)
    progress = Progress()
    result = lifecycle.resubmit(
        config,
        name,
        job_args=job_args,
        parallelism=parallelism,
        restart_taskmanager=restart_taskmanager,
        reason="upgrade",
        tick=progress,
    )
    progress.done(f"upgraded {name}")
    report(config, name, result)
    prune(config, name, keep_savepoints)


@job.command()
@job_options
@click.option("--parallelism", "-p", required=True, type=int)
@keep_savepoints_option
def rescale(
    data_dir: Path | None, name: str, parallelism: int, keep_savepoints: int, **ports: int | None
) -> None:
    """Stop with a savepoint and resubmit with another parallelism."""
    config = StackConfig.for_data_dir(data_dir, **ports)
    progress = Progress()
    result = lifecycle.resubmit(
        config, name, parallelism=parallelism, reason="rescale", tick=progress
    )
    progress.done(f"rescaled {name} to parallelism {parallelism}")
    report(config, name, result)
    prune(config, name, keep_savepoints)


@job.command()
@job_options
def status(data_dir: Path | None, name: str, **ports: int | None) -> None:
    """State, parallelism, restarts, checkpoints and savepoints of the job."""
    config = StackConfig.for_data_dir(data_dir, **ports)
    st = lifecycle.job_status(config, name)
    uptime = time.time() - st.start_ms / 1000
    click.echo(f"job {name}: {st.state} as {st.job_id}, parallelism {st.parallelism}")
    click.echo(f"  up {uptime:.0f} s, {st.restarts} restart(s)")
    counts = st.checkpoints.get("counts", {})
    click.echo(
        f"  checkpoints: {counts.get('completed', 0)} completed, "
        f"{counts.get('failed', 0)} failed, {counts.get('in_progress', 0)} in progress"
    )
    latest = st.checkpoints.get("latest", {}) or {}
    if latest.get("completed"):
        done = latest["completed"]
        click.echo(
            f"  last checkpoint #{done['id']}: {done.get('checkpointed_size', 0) / 1024:.0f} KiB "
            f"written, {done.get('end_to_end_duration', 0)} ms"
        )
    if latest.get("restored"):
        click.echo(f"  restored from: {latest['restored'].get('external_path')}")
    if st.deployment and st.deployment.latest_savepoint:
        click.echo(f"  latest savepoint: {st.deployment.latest_savepoint.path}")
    click.echo(f"  dashboard: {st.dashboard}")
    if st.state != "RUNNING":
        raise SystemExit(1)
