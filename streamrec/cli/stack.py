"""``streamrec stack up | down | status | logs | env | fetch``."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from streamrec.cli.errors import user_errors
from streamrec.stack import toolchain
from streamrec.stack.config import StackConfig, default_cache_dir
from streamrec.stack.launcher import ALL_SERVICES, Stack
from streamrec.stack.services.flink import FlinkService

PORT_OPTIONS = [
    ("--kafka-port", "kafka_port", "STREAMREC_KAFKA_PORT", 9092),
    ("--kafka-controller-port", "kafka_controller_port", "STREAMREC_KAFKA_CONTROLLER_PORT", 9093),
    ("--cassandra-port", "cassandra_port", "STREAMREC_CASSANDRA_PORT", 9042),
    (
        "--cassandra-storage-port",
        "cassandra_storage_port",
        "STREAMREC_CASSANDRA_STORAGE_PORT",
        7000,
    ),
    ("--flink-rest-port", "flink_rest_port", "STREAMREC_FLINK_REST_PORT", 8081),
    ("--flink-rpc-port", "flink_rpc_port", "STREAMREC_FLINK_RPC_PORT", 6123),
    ("--flink-metrics-port", "flink_metrics_port", "STREAMREC_FLINK_METRICS_PORT", 9249),
    ("--mlflow-port", "mlflow_port", "STREAMREC_MLFLOW_PORT", 5000),
    ("--prometheus-port", "prometheus_port", "STREAMREC_PROMETHEUS_PORT", 9290),
]


def stack_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Data dir and ports, each also settable through its environment variable."""
    for flag, dest, env_var, default in reversed(PORT_OPTIONS):
        func = click.option(
            flag,
            dest,
            type=int,
            envvar=env_var,
            default=None,
            help=f"[env {env_var}; default {default}]",
        )(func)
    func = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="STREAMREC_HOME",
        default=None,
        help="Where the servers keep data, logs and pid files "
        "[env STREAMREC_HOME; default ./.streamrec]",
    )(func)
    return func


def services_argument(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("services", nargs=-1, type=click.Choice(ALL_SERVICES))(func)


@click.group()
def stack() -> None:
    """The local Kafka, Cassandra, Flink and MLflow servers."""


@stack.command()
@stack_options
@services_argument
@user_errors
def up(data_dir: Path | None, services: tuple[str, ...], **ports: int | None) -> None:
    """Start (or confirm) the servers, then create topics and tables. Idempotent."""
    config = StackConfig.for_data_dir(data_dir, **ports)
    started = time.monotonic()
    reports = Stack(config, echo=click.echo).up(services or None)
    click.echo(f"stack ready in {time.monotonic() - started:.1f}s (data dir {config.data_dir})")
    if any(r.name == "flink" for r in reports):
        click.echo(f"Flink dashboard: {config.flink_rest_url}")


@stack.command()
@stack_options
@services_argument
@user_errors
def down(data_dir: Path | None, services: tuple[str, ...], **ports: int | None) -> None:
    """Stop the servers this data dir started (by pid: SIGTERM, SIGKILL after a grace period)."""
    config = StackConfig.for_data_dir(data_dir, **ports)
    for name, outcome in Stack(config, echo=click.echo).down(services or None).items():
        click.echo(f"{name}: {outcome}")


@stack.command()
@stack_options
@services_argument
@user_errors
def status(data_dir: Path | None, services: tuple[str, ...], **ports: int | None) -> None:
    """What is up, where, since when and how much memory it holds. Exit 1 if anything is not
    up (an optional server nobody started is ``off``, not a failure)."""
    config = StackConfig.for_data_dir(data_dir, **ports)
    rows = Stack(config, echo=click.echo).status(services or None)
    now = time.time()
    for row in rows:
        uptime = f"{now - row.started_at:7.0f}s" if row.started_at else "       -"
        memory = f"{row.rss_bytes / 2**20:7.0f} MiB" if row.pids else "      - MiB"
        pids = ",".join(map(str, row.pids[:4])) or "-"
        click.echo(f"{row.name:10} {row.state:10} {uptime} {memory}  {row.address:38} pid {pids}")
    if any(row.state not in ("up", "off") for row in rows):
        raise SystemExit(1)


@stack.command()
@stack_options
@click.argument("service", type=click.Choice(ALL_SERVICES))
@click.option(
    "-n", "--lines", default=50, show_default=True, help="Lines from the end of each log."
)
@user_errors
def logs(data_dir: Path | None, service: str, lines: int, **ports: int | None) -> None:
    """Show the end of a service's logs."""
    click.echo(Stack(StackConfig.for_data_dir(data_dir, **ports)).logs(service, lines))


@stack.command()
@stack_options
@user_errors
def env(data_dir: Path | None, **ports: int | None) -> None:
    """Print shell exports for Flink's own CLI against this stack's cluster.

    eval "$(streamrec stack env)" and then `flink list`, `flink savepoint JOB_ID`,
    `flink run --python job.py` work as with a Flink distribution.
    """
    config = StackConfig.for_data_dir(data_dir, **ports)
    lines = FlinkService(config).shell_exports()
    click.echo(f"# Flink CLI for the stack in {config.data_dir} ({config.flink_rest_url})")
    click.echo("\n".join(lines))


@stack.command()
@user_errors
def fetch() -> None:
    """Resolve the Kafka, Cassandra and Flink connector jars from Maven Central (idempotent)."""
    jars_root = default_cache_dir() / "jars"
    for jar_set in toolchain.JAR_SETS:
        click.echo(f"{jar_set}: {toolchain.resolve(jars_root, jar_set)}")
