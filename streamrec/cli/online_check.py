"""``streamrec model online-check``: the training/serving skew check on a running job."""

from __future__ import annotations

import time
from pathlib import Path

import click

from streamrec.cli.errors import user_errors
from streamrec.cli.model import (
    _publish,
    bootstrap_option,
    model_name_option,
    signing_key_option,
    tracking_option,
)
from streamrec.datasets.catalog import LOGS
from streamrec.job_config.settings import Topics

DAY_MS = 86_400_000


@click.command("online-check")
@click.option("--log", type=click.Choice(sorted(LOGS)), required=True, help="A catalogued log.")
@click.option(
    "--data-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Directory holding the --log files (streamrec/datasets/catalog.py).",
)
@model_name_option
@tracking_option
@bootstrap_option
@signing_key_option
@click.option("--epochs", default=4, show_default=True)
@click.option("--ranker/--no-ranker", default=False, show_default=True)
@click.option("--events-topic", default=Topics.events, show_default=True)
@click.option("--models-topic", default=Topics.models, show_default=True)
@click.option("--recommendations-topic", default=Topics.recommendations, show_default=True)
@click.option(
    "--leave-last",
    type=click.IntRange(1),
    default=None,
    help="Use the leave-last-N protocol's past instead of the temporal split's.",
)
@click.option("--rate", type=float, default=None, help="Events per second (default: max).")
@click.option(
    "--max-event-age-days",
    default=365.0,
    show_default=True,
    help="The job's --max-event-age-days; a longer past is refused before anything is sent.",
)
@click.option("--tolerance", default=0.05, show_default=True, help="Largest relative gap.")
@user_errors
def online_check(
    log: str,
    data_dir: Path,
    model_name: str,
    tracking_uri: str,
    bootstrap_servers: str,
    signing_key: Path,
    epochs: int,
    ranker: bool,
    events_topic: str,
    models_topic: str,
    recommendations_topic: str,
    rate: float | None,
    leave_last: int | None,
    max_event_age_days: float,
    tolerance: float,
) -> None:
    """Online equals offline: train on a log's past, register and publish the model,
    replay the past through the running job (k, candidates at its defaults, no rules)
    and compare Recall@20 of its answers at the cut with offline scoring of the same users.

    Exits non-zero when the gap exceeds --tolerance or any answer is missing or came
    from another version. Run it against a job that has no rules published and was
    started with --cold-start-events 0 --trending-candidates 0 --trending-slots 0
    (otherwise trending answers users with one past event and adds to the model's lists,
    which offline scoring does not model; cold-start answers are reported as such).
    """
    from streamrec.datasets.catalog import load_log
    from streamrec.model_package.package import build_package, load_package
    from streamrec.model_registry.mlflow_registry import MlflowRegistry
    from streamrec.model_registry.online_check import check_case
    from streamrec.model_registry.online_replay import CheckTopics, run_check
    from streamrec.model_registry.train import TrainConfig, fit
    from streamrec.state.features import default_spec

    events, categories = load_log(log, data_dir)
    config = TrainConfig(epochs=epochs, use_ranker=ranker)
    check = check_case(events, categories, config.future_fraction, config.half_life_ms, leave_last)
    span_days = (check.past[-1].ts - check.past[0].ts) / DAY_MS
    if span_days >= max_event_age_days:
        raise click.ClickException(
            f"the past spans {span_days:.0f} days; the job refuses events older than "
            f"--max-event-age-days {max_event_age_days:g} (start it with a larger one)"
        )
    click.echo(
        f"{log}: {len(check.past)} past events over {span_days:.0f} days, "
        f"{len(check.last_event)} users to evaluate"
    )
    started = time.perf_counter()
    fitted = fit(check.past, categories, config)
    click.echo(f"trained in {time.perf_counter() - started:.0f} s")
    registry = MlflowRegistry(tracking_uri, model_name)
    packages: dict[str, bytes] = {}

    def package_for(version: str) -> bytes:
        packages[version] = build_package(fitted.artifacts, model_name, version, {})
        return packages[version]

    params = {**config.params(), "log": log, "purpose": "online-check"}
    version = registry.log_and_register(params, {}, package_for).version
    model = load_package(packages[version], default_spec(config.half_life_ms))
    topics = CheckTopics(bootstrap_servers, events_topic, recommendations_topic)
    report = run_check(
        model,
        check,
        topics,
        lambda: _publish(registry, version, bootstrap_servers, models_topic, signing_key),
        half_life_ms=config.half_life_ms,
        rate_per_s=rate,
        progress=click.echo,
    )
    click.echo(report.summary())
    problems = report.problems(tolerance)
    if problems:
        raise click.ClickException("online differs from offline: " + "; ".join(problems))
    click.echo("online equals offline")
