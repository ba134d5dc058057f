"""``streamrec simulate``: the closed-loop experiment on the local stack.

Trains a model on the generated world, starts a job of its own (its own topics), and runs
simulated users of the same world against it through three phases: the popularity
fallback, the trained model, the trained model with its item ids shuffled. Prints CTR per
version with 95% intervals, from the users' own counts and from the job's feedback
records, and how long the broken model took to stand apart.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import click

from streamrec.cli.errors import user_errors
from streamrec.cli.stack import stack_options
from streamrec.job_config.flags import to_args
from streamrec.job_config.settings import Checkpointing, Feedback, Topics
from streamrec.ops import lifecycle
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig

JOB_NAME = "streamrec-closed-loop"
MODEL_NAME = "closed-loop"


@click.command("simulate")
@stack_options
@click.option("--users", default=40, show_default=True, help="Simulated users in the loop.")
@click.option("--phase-s", default=180.0, show_default=True, help="Seconds per phase.")
@click.option("--seed", default=7, show_default=True, help="The generated world's seed.")
@user_errors
def simulate(
    data_dir: Path | None, users: int, phase_s: float, seed: int, **ports: int | None
) -> None:
    """Closed loop: fallback vs trained model vs a broken one, CTR with intervals.

    Needs `streamrec stack up` first; takes about 3 x --phase-s plus two minutes."""
    from streamrec.model_package.package import build_package
    from streamrec.model_registry.publisher import publish_to_stack
    from streamrec.model_registry.synthetic import SyntheticConfig, generate, latent_world
    from streamrec.model_registry.train import TrainConfig, train
    from streamrec.simulation import experiment
    from streamrec.simulation.click_model import ClickModel
    from streamrec.simulation.closed_loop import ClosedLoop
    from streamrec.simulation.ctr import describe, from_feedback
    from streamrec.stack.readback import read_values
    from streamrec.stack.topics import ensure_topics, stack_topics

    config = StackConfig.for_data_dir(data_dir, **ports)
    world = SyntheticConfig(seed=seed)
    click.echo("training a model on the generated world (about a minute on 2 cores)...")
    data = generate(world)
    result = train(data.events, data.item_categories, TrainConfig())
    packages = {
        "1": build_package(result.artifacts, MODEL_NAME, "1", result.metrics),
        "2": build_package(
            experiment.misaligned(result.artifacts), MODEL_NAME, "2", result.metrics
        ),
    }
    prefix = f"loop-{uuid.uuid4().hex[:6]}."
    topics = Topics().prefixed(prefix)
    ensure_topics(config.kafka_bootstrap, stack_topics(config.topic_partitions, prefix))
    args = job_args(config, topics)
    deployment = lifecycle.deploy(config, JOB_NAME, args, parallelism=1, tick=lambda _: None)
    click.echo(f"job {deployment.job_id} running on topics {prefix}*")

    def publish(version: str) -> str:
        publish_to_stack(packages[version], config, topics.models)
        return version

    loop = ClosedLoop(config.kafka_bootstrap, topics.events, topics.recommendations,
                      ClickModel(latent_world(world), users, seed + 1))  # fmt: skip
    try:
        outcome = experiment.run(
            loop,
            experiment.comparison(phase_s, publish),
            say=click.echo,
        )
        click.echo("\nCTR per list, 95% Wilson intervals (the users' own counts):")
        for phase in outcome.phases:
            for version, rate in sorted(phase.rates.items()):
                click.echo(f"  {phase.name:34} {describe(version, rate)}")
        separated = outcome.separated_after_s
        click.echo(
            "the broken model's CTR stood apart after "
            + (f"{separated:.0f} s" if separated is not None else "no time within its phase")
        )
        click.echo("waiting for the job's feedback records (one horizon, 60 s)...")
        loop.run(75.0)
        seen = from_feedback(read_values(config.kafka_bootstrap, topics.feedback, 10.0))
        click.echo("CTR per version from the job's feedback topic:")
        for version, rate in sorted(seen.items()):
            click.echo(f"  {describe(version, rate)}")
    finally:
        loop.close()
        flink_client.cancel_job(config, deployment.job_id)
    click.echo(f"job {deployment.job_id} cancelled; its topics {prefix}* are left for reading")


def job_args(config: StackConfig, topics: Topics) -> list[str]:
    """The closed-loop job's arguments: the stack's, its own topics, and feedback per 30 s
    within a minute, so the comparison shows in minutes, not hours."""
    job = dataclasses.replace(
        lifecycle.stack_job_config(config, JOB_NAME),
        topics=topics,
        feedback=Feedback(horizon_ms=60_000, window_ms=30_000),
        checkpointing=Checkpointing(interval_ms=2_000),
    )
    return to_args(job, changed_only=True)
