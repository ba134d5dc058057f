"""``streamrec model``: generate data, train, promote, publish, roll back."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from streamrec.cli.errors import user_errors
from streamrec.cli.model_sources import (
    DataSource,
    blend_origins_option,
    engaged_history_option,
    load_source,
    source_options,
    transitions_option,
)
from streamrec.job_config.settings import Topics
from streamrec.stack.config import StackConfig
from streamrec.stack.keys import signing_key_path

if TYPE_CHECKING:
    from streamrec.model_registry.mlflow_registry import MlflowRegistry

model_name_option = click.option(
    "--model-name",
    default="streamrec",
    show_default=True,
    help="Registered model name (also the Kafka key prefix).",
)


def _local_stack() -> StackConfig:
    """The stack ``streamrec stack up`` recorded in $STREAMREC_HOME (or its defaults)."""
    return StackConfig.for_data_dir(None)


tracking_option = click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    default=lambda: _local_stack().mlflow_url,
    show_default="the local stack's MLflow server",
    help="MLflow tracking URI (env MLFLOW_TRACKING_URI).",
)
signing_key_option = click.option(
    "--signing-key",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="STREAMREC_MODEL_SIGNING_KEY",
    default=lambda: str(signing_key_path(_local_stack())),
    show_default="the local stack's key (created by `streamrec stack up`)",
    help="Ed25519 private key (PEM) that signs the reference (env STREAMREC_MODEL_SIGNING_KEY).",
)
bootstrap_option = click.option(
    "--bootstrap-servers",
    envvar="KAFKA_BOOTSTRAP_SERVERS",
    default=lambda: _local_stack().kafka_bootstrap,
    show_default="the local stack's Kafka",
    help="Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS).",
)


@click.group("model")
def model() -> None:
    """Train, register, promote and publish recommendation models."""


@model.command()
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--users", default=3000, show_default=True)
@click.option("--items", default=2000, show_default=True)
@click.option("--days", default=28, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--malformed-share", default=0.0, show_default=True, help="Share of malformed records."
)
@click.option(
    "--bootstrap-servers",
    envvar="KAFKA_BOOTSTRAP_SERVERS",
    default=None,
    help="Also produce the events to Kafka.",
)
@click.option("--topic", default=Topics.events, show_default=True)
@click.option(
    "--rate", type=float, default=None, help="Records per second to Kafka (default: max)."
)
@user_errors
def generate(
    out_dir: Path,
    users: int,
    items: int,
    days: int,
    seed: int,
    malformed_share: float,
    bootstrap_servers: str | None,
    topic: str,
    rate: float | None,
) -> None:
    """Generate a synthetic event stream: OUT_DIR/events.jsonl and OUT_DIR/items.csv."""
    from streamrec.model_registry import synthetic
    from streamrec.model_registry.replay import records_from_jsonl, replay

    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = synthetic.SyntheticConfig(
        seed=seed, n_users=users, n_items=items, days=days, malformed_share=malformed_share
    )
    data = synthetic.generate(cfg)
    count = synthetic.write_jsonl(data, out_dir / "events.jsonl", out_dir / "items.csv")
    click.echo(
        f"wrote {count} records ({len(data.malformed)} malformed) to {out_dir / 'events.jsonl'}"
    )
    if bootstrap_servers:
        replay(
            records_from_jsonl(out_dir / "events.jsonl"), bootstrap_servers, topic, rate, click.echo
        )


@model.command()
@model_name_option
@tracking_option
@source_options
@click.option("--seed", default=7, show_default=True, help="Seed when generating data.")
@click.option("--epochs", default=4, show_default=True)
@click.option("--embedding-dim", default=64, show_default=True)
@click.option(
    "--ranker/--no-ranker",
    default=False,
    show_default=True,
    help="Also train and package the ranker (off: it lowered Recall@20 on the real logs).",
)
@engaged_history_option
@transitions_option
@blend_origins_option
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the package here."
)
@click.option(
    "--serving-log",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Train on the features the job served (JSONL from `model export-serving-log`), "
    "each labelled by the user's next engagement; --items adds the catalogue's categories.",
)
@user_errors
def train(
    model_name: str,
    tracking_uri: str,
    source: DataSource,
    seed: int,
    epochs: int,
    embedding_dim: int,
    ranker: bool,
    engaged_history: bool,
    transitions: bool,
    blend_origins: int,
    out: Path | None,
    serving_log: Path | None,
) -> None:
    """Train on generated data (default), a real log or the job's serving log; register a
    version as challenger."""
    from streamrec.model_package.package import build_package
    from streamrec.model_registry.mlflow_registry import MlflowRegistry
    from streamrec.model_registry.train import TrainConfig
    from streamrec.model_registry.train import train as run_training

    logged, log_facts = None, {}
    if serving_log is not None:
        logged, categories = _serving_log_input(serving_log, source)
        events = logged.events
        log_facts = {
            "serving_log_examples": float(len(logged.items)),
            "serving_log_gaps": float(logged.gaps),
            "serving_log_duplicates": float(logged.duplicates),
        }
    else:
        loaded = load_source(source)
        if loaded is None:
            from streamrec.model_registry import synthetic

            data = synthetic.generate(synthetic.SyntheticConfig(seed=seed))
            loaded = data.events, data.item_categories
        events, categories = loaded
    click.echo(f"training on {len(events)} events")
    config = TrainConfig(
        epochs=epochs,
        embedding_dim=embedding_dim,
        use_ranker=ranker,
        engaged_history=engaged_history,
        transitions=transitions,
        blend_origins=blend_origins,
    )
    if logged is not None:  # the fold the job served with, or the model would not load
        config = dataclasses.replace(config, half_life_ms=logged.spec.half_life_ms)
    started = time.perf_counter()
    result = run_training(events, categories, config, logged)
    metrics = {**result.metrics, **result.timings, **log_facts,
               "train_total_s": time.perf_counter() - started}  # fmt: skip
    registry = MlflowRegistry(tracking_uri, model_name)
    packages: dict[str, bytes] = {}

    def package_for(version: str) -> bytes:
        packages[version] = build_package(result.artifacts, model_name, version, result.metrics)
        return packages[version]

    params = {k: v for k, v in result.artifacts.params.items() if k != "train_loss"}
    registered = registry.log_and_register(params, metrics, package_for)
    package = packages[registered.version]
    if out:
        out.write_bytes(package)
    keys = ("recall_at_20", "pop_recall_at_20", "cooc_recall_at_20", "recall_at_20_lift")
    click.echo(" ".join(f"{k}={result.metrics.get(k, float('nan')):.4f}" for k in keys))
    click.echo(
        f"registered {model_name} version {registered.version} (run {registered.run_id}) "
        f"as challenger; package {len(package)} bytes"
    )


def _serving_log_input(path: Path, source: DataSource) -> tuple[Any, dict[str, str]]:
    """The serving log's examples and the item categories (``--items``, else the events'
    context.category); says what was skipped and which model versions served the log."""
    from streamrec.model_registry import loaders
    from streamrec.model_registry.serving_log import (
        categories_from_context,
        logged_examples,
        read_serving_log,
    )

    if any(p is not None for p in (source.events_path, source.movielens, source.csv_path,
                                   source.log)):  # fmt: skip
        raise click.ClickException("--serving-log is a data source: give no other")
    served = read_serving_log(path)
    if served.bad_lines:
        click.echo(f"skipped {sum(served.bad_lines.values())} bad lines: {served.bad_summary()}")
    logged = logged_examples(served)
    versions = ", ".join(f"{v}: {n}" for v, n in sorted(logged.model_versions.items()))
    click.echo(
        f"serving log: {len(served.records)} records (model versions {versions}), "
        f"{len(logged.items)} examples; {logged.gaps} pairs with a gap and "
        f"{logged.duplicates} duplicate records left out"
    )
    if source.items_path is not None:
        return logged, loaders.load_items_csv(source.items_path)
    return logged, categories_from_context(logged.events)


@model.command("export-serving-log")
@bootstrap_option
@click.option(
    "--topic", default=Topics.serving_features, show_default=True, help="The job's topic."
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--timeout-s", default=300.0, show_default=True)
@user_errors
def export_serving_log(bootstrap_servers: str, topic: str, out: Path, timeout_s: float) -> None:
    """Copy the serving-features topic (committed records) to a JSONL file for
    `model train --serving-log`."""
    from streamrec.model_registry.serving_log_export import export_topic

    done = export_topic(bootstrap_servers, topic, out, timeout_s=timeout_s)
    click.echo(f"wrote {done.records} records to {out} ({done.tombstones} tombstones skipped)")


@model.command()
@source_options
@bootstrap_option
@click.option("--topic", default=Topics.events, show_default=True)
@click.option("--rate", type=float, default=None, help="Events per second (default: max).")
@click.option(
    "--shift-to-now/--original-ts",
    default=True,
    show_default=True,
    help="Move all timestamps by one offset so the last event is now (gaps kept), "
    "or send them as logged (the job's --max-event-age-days must admit them).",
)
@user_errors
def replay(
    source: DataSource, bootstrap_servers: str, topic: str, rate: float | None, shift_to_now: bool
) -> None:
    """Produce a real log's events onto Kafka in timestamp order (key = user id)."""
    from streamrec.model_registry import replay as producer

    loaded = load_source(source)
    if loaded is None:
        raise click.ClickException("give a log: --log, --movielens, --csv or --events")
    events = list(producer.with_categories(loaded[0], loaded[1]))
    if shift_to_now:
        events = list(producer.shifted(events, int(time.time() * 1000)))
    records = producer.records_from_events(events)
    producer.replay(records, bootstrap_servers, topic, rate, click.echo)


@model.command()
@model_name_option
@tracking_option
@click.option(
    "--version", "ref", default="challenger", show_default=True, help="Version number or alias."
)
@click.option(
    "--margin", default=0.05, show_default=True, help="Allowed relative metric drop vs champion."
)
@click.option("--force", is_flag=True, help="Promote even if validation fails.")
@user_errors
def promote(model_name: str, tracking_uri: str, ref: str, margin: float, force: bool) -> None:
    """Make a version the champion after checking its feature spec and metrics."""
    from streamrec.model_package.package import read_manifest
    from streamrec.model_registry.mlflow_registry import CHAMPION, MlflowRegistry
    from streamrec.model_registry.promotion import promotion_problems
    from streamrec.state.features import default_spec

    registry = MlflowRegistry(tracking_uri, model_name)
    version = registry.resolve(ref)
    candidate = read_manifest(registry.package_bytes(version))
    champion_version = registry.alias_version(CHAMPION)
    champion = None
    if champion_version is not None and champion_version != version:
        champion = read_manifest(registry.package_bytes(champion_version))
    problems = promotion_problems(candidate, champion, default_spec(), margin)
    if problems and not force:
        raise click.ClickException(
            "refusing to promote: " + "; ".join(problems) + " (use --force to override)"
        )
    for p in problems:
        click.echo(f"warning (forced): {p}")
    previous = registry.set_champion(version)
    click.echo(f"{model_name} version {version} is champion (was {previous or 'none'})")


@model.command()
@model_name_option
@tracking_option
@bootstrap_option
@click.option(
    "--version", "ref", default="champion", show_default=True, help="Version number or alias."
)
@click.option("--topic", default=Topics.models, show_default=True)
@signing_key_option
@user_errors
def publish(
    model_name: str,
    tracking_uri: str,
    bootstrap_servers: str,
    ref: str,
    topic: str,
    signing_key: Path,
) -> None:
    """Publish a signed reference to a registered version's package onto the models topic."""
    from streamrec.model_registry.mlflow_registry import MlflowRegistry

    registry = MlflowRegistry(tracking_uri, model_name)
    _publish(registry, registry.resolve(ref), bootstrap_servers, topic, signing_key)


@model.command()
@model_name_option
@tracking_option
@bootstrap_option
@click.option(
    "--to", "ref", default=None, help="Version to restore (default: the previous champion)."
)
@click.option("--topic", default=Topics.models, show_default=True)
@signing_key_option
@user_errors
def rollback(
    model_name: str,
    tracking_uri: str,
    bootstrap_servers: str,
    ref: str | None,
    topic: str,
    signing_key: Path,
) -> None:
    """Make an earlier version champion again and re-publish it."""
    from streamrec.model_registry.mlflow_registry import MlflowRegistry

    registry = MlflowRegistry(tracking_uri, model_name)
    target = ref or registry.previous_champion()
    if target is None:
        raise click.ClickException(
            f"{model_name} has no previous champion; name one with --to VERSION"
        )
    version = registry.resolve(target)
    _publish(registry, version, bootstrap_servers, topic, signing_key)
    registry.set_champion(version)
    click.echo(f"rolled back {model_name} to version {version}")


def _publish(
    registry: MlflowRegistry, version: str, bootstrap: str, topic: str, signing_key: Path
) -> None:
    from streamrec.model_package.package import load_package
    from streamrec.model_package.signing import load_private_key, sign
    from streamrec.model_registry.publisher import publish_reference, reference_for
    from streamrec.state.features import default_spec

    key = load_private_key(signing_key)  # before any download: a missing key fails fast
    model_name = registry.model_name
    package = registry.package_bytes(version)
    # Refuse to publish what the job would reject.
    load_package(package, default_spec())
    # The job fetches the registered artifact itself: the topic carries only the reference.
    reference = sign(
        reference_for(package, registry.package_location(version), model_name, version), key
    )
    publish_reference(reference, bootstrap, topic)
    registry.tag_version(version, "published_ms", str(reference.published_ms))
    click.echo(
        f"published {model_name} version {version} to {topic}: a reference signed by key "
        f"{reference.key_id} to {len(package)} bytes at {reference.uri}, "
        f"sha256 {reference.sha256[:16]}"
    )
