"""``streamrec demo``: the README's first command, end to end on the local stack.

stack up -> train and register a model in MLflow (or reuse the champion) -> promote ->
publish onto ``models`` -> submit the job -> stream generated events at a steady rate
-> read every recommendation back (read_committed) -> show users' rows from Cassandra.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import click

from streamrec.cli import model as model_cli
from streamrec.cli.errors import user_errors
from streamrec.cli.stack import stack_options
from streamrec.job_config.flags import to_args
from streamrec.job_config.settings import Checkpointing, Topics
from streamrec.jobs import recommend
from streamrec.model_registry.replay import live_copies, records_stamped_at_send, replay
from streamrec.ops import lifecycle
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.errors import StackError
from streamrec.stack.launcher import Stack
from streamrec.stack.readback import read_recommendations

JOB_NAME = "streamrec-demo"
MODEL_NAME = "streamrec"
SEED = 7  # the same world the model is trained on, so the events' items are known


def ensure_champion(ctx: click.Context, config: StackConfig, retrain: bool) -> str:
    """The champion version, training and promoting one first if there is none."""
    from streamrec.model_package.errors import ModelPackageError
    from streamrec.model_package.package import read_manifest
    from streamrec.model_registry.errors import ModelRegistryError
    from streamrec.model_registry.mlflow_registry import CHAMPION, MlflowRegistry

    registry = MlflowRegistry(config.mlflow_url, MODEL_NAME)
    version = None if retrain else registry.alias_version(CHAMPION)
    if version is not None:
        try:
            read_manifest(registry.package_bytes(version))
        # e.g. a package format this release refuses, or a registry that cannot serve it
        except (ModelPackageError, ModelRegistryError) as ex:
            click.echo(f"champion {MODEL_NAME} version {version} cannot serve ({ex}); retraining")
        else:
            click.echo(f"using champion {MODEL_NAME} version {version} from MLflow")
            return version
    click.echo("training a model (about a minute on 2 cores)...")
    ctx.invoke(model_cli.train, model_name=MODEL_NAME, tracking_uri=config.mlflow_url, seed=SEED)
    ctx.invoke(
        model_cli.promote, model_name=MODEL_NAME, tracking_uri=config.mlflow_url, ref="challenger"
    )
    return registry.resolve(CHAMPION)


def replace_running_job(config: StackConfig, job_args: list[str]) -> str:
    """Cancel an earlier demo job (its offsets are committed) and submit anew."""
    for job in lifecycle.active_jobs(config, JOB_NAME):
        click.echo(f"cancelling the previous demo job {job['jid']}")
        flink_client.cancel_job(config, job["jid"])
    job_id = flink_client.submit_python_job(config, Path(recommend.__file__), job_args)
    lifecycle.wait_until_running(config, job_id, tick=lambda _: None, timeout_s=180)
    return job_id


def demo_events(count: int) -> list[dict[str, Any]]:
    """The newest ``count`` generated events, with fresh ids; timestamps are set when sent."""
    from streamrec.model_registry.synthetic import SyntheticConfig, generate

    data = generate(SyntheticConfig(seed=SEED))
    return live_copies(data.events[-count:], f"demo-{uuid.uuid4().hex[:6]}")


def show_cassandra_rows(config: StackConfig, users: list[str]) -> None:
    from streamrec.stack.cql_client import connect

    with connect("127.0.0.1", config.cassandra_port, config.keyspace) as session:
        for user in users:
            row = session.execute(
                "SELECT model_version, event_id, ranked AS items FROM recs_by_user "
                "WHERE user_id = %s",
                (user,),
            ).one()
            if row is None:
                click.echo(f"  {user}: no row")
                continue
            top = ", ".join(f"{i.item_id} ({i.score:.2f})" for i in row.items[:5])
            click.echo(f"  {user}  model {row.model_version}  after {row.event_id}: {top}")


def percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0


@click.command()
@stack_options
@click.option("--events", "count", default=2000, show_default=True, help="Events to stream.")
@click.option("--rate", default=200.0, show_default=True, help="Events per second.")
@click.option("--retrain", is_flag=True, help="Train a new model even if MLflow has a champion.")
@click.pass_context
@user_errors
def demo(
    ctx: click.Context,
    data_dir: Path | None,
    count: int,
    rate: float,
    retrain: bool,
    **ports: int | None,
) -> None:
    """Start the stack, train and publish a model, run the job, stream events, show results."""
    config = StackConfig.for_data_dir(data_dir, **ports)
    Stack(config, echo=click.echo).up()
    version = ensure_champion(ctx, config, retrain)
    ctx.invoke(
        model_cli.publish,
        model_name=MODEL_NAME,
        tracking_uri=config.mlflow_url,
        bootstrap_servers=config.kafka_bootstrap,
        ref=version,
    )
    # 2 s checkpoints: read_committed readers see the demo's answers sooner.
    job_args = [
        *lifecycle.stack_job_args(config, JOB_NAME),
        *to_args(Checkpointing(interval_ms=2_000), changed_only=True),
    ]
    job_id = replace_running_job(config, job_args)
    click.echo(f"job {job_id} RUNNING")
    events = demo_events(count)
    # Small linger: the latency printed below is measured from each event's send time.
    records = records_stamped_at_send(events)
    topics = Topics()
    replay(records, config.kafka_bootstrap, topics.events, rate, click.echo, linger_ms=5)
    received = read_recommendations(
        config.kafka_bootstrap, topics.recommendations, {e["event_id"] for e in events}, 120
    )
    versions = sorted({r["model_version"] for r in received.values()})
    click.echo(
        f"{len(received)}/{len(events)} recommendations read back (read_committed), "
        f"model version(s) {', '.join(versions)}"
    )
    if received:
        scored = [r["emitted_ts"] - r["event_ts"] for r in received.values()]
        visible = [r["read_ts"] - r["event_ts"] for r in received.values()]
        click.echo(
            f"event -> scored: p50 {percentile(scored, 0.5)} ms, p99 {percentile(scored, 0.99)}"
            f" ms; event -> readable on Kafka (exactly-once, 2 s checkpoints): p50 "
            f"{percentile(visible, 0.5)} ms"
        )
    users = list(dict.fromkeys(e["user_id"] for e in reversed(events)))[:5]
    click.echo("latest recommendations in Cassandra (recs_by_user):")
    show_cassandra_rows(config, users)
    click.echo(f"\nFlink dashboard: {config.flink_rest_url}/#/job/running/{job_id}/overview")
    click.echo("The job keeps running; stop everything with `streamrec stack down`.")
    if len(received) < len(events):
        raise StackError(f"only {len(received)} of {len(events)} recommendations arrived")
