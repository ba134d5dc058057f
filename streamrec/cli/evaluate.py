"""``streamrec model evaluate``: the model against every baseline on a real log, per
evaluation protocol (docs/quality.md). Registered on the ``model`` group by
``streamrec.cli.main``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from streamrec.cli.errors import user_errors
from streamrec.cli.model import tracking_option
from streamrec.cli.model_sources import (
    DataSource,
    blend_origins_option,
    engaged_history_option,
    load_source,
    source_options,
    transitions_option,
)

if TYPE_CHECKING:
    from streamrec.model_registry.protocols import EvalCase
    from streamrec.model_registry.quality import ProtocolReport


@click.command()
@source_options
@click.option(
    "--protocol",
    "protocols",
    type=click.Choice(["temporal", "leave_last", "rolling"]),
    multiple=True,
    help="Repeatable; default all three. rolling: the temporal split at --origins "
    "consecutive origins, pooled (one model trained per origin).",
)
@click.option("--leave-out", default=5, show_default=True, help="N of leave-last-N-out.")
@click.option(
    "--origins",
    default=6,
    show_default=True,
    type=click.IntRange(min=1),
    help="Origins of the rolling protocol.",
)
@click.option("--epochs", default=4, show_default=True)
@click.option("--ranker/--no-ranker", default=False, show_default=True)
@engaged_history_option
@transitions_option
@blend_origins_option
@tracking_option
@click.option("--no-mlflow", is_flag=True, help="Print the tables only.")
@user_errors
def evaluate(
    source: DataSource,
    protocols: tuple[str, ...],
    leave_out: int,
    origins: int,
    epochs: int,
    ranker: bool,
    engaged_history: bool,
    transitions: bool,
    blend_origins: int,
    tracking_uri: str,
    no_mlflow: bool,
) -> None:
    """Model vs popularity, recent popularity and co-occurrence on a real log, per
    protocol (docs/quality.md). Each protocol is one MLflow run (experiment
    streamrec-quality) holding the printed numbers."""
    from streamrec.datasets.catalog import LOGS
    from streamrec.model_registry.mlflow_registry import log_run
    from streamrec.model_registry.protocols import rolling_cases
    from streamrec.model_registry.quality import (
        PROTOCOLS,
        config_for,
        make_case,
        markdown,
        measure,
        measure_rolling,
    )
    from streamrec.model_registry.train import TrainConfig

    loaded = load_source(source)
    if loaded is None:
        raise click.ClickException("give a log: --log, --movielens, --csv or --events")
    events, categories = loaded
    name = source.name
    config = TrainConfig(
        epochs=epochs,
        use_ranker=ranker,
        engaged_history=engaged_history,
        transitions=transitions,
        blend_origins=blend_origins,
    )
    click.echo(f"{name}: {len(events)} events, {len({e.user_id for e in events})} users")
    temporal_report = None  # the rolling protocol's newest origin is this same split
    for protocol in protocols or PROTOCOLS:
        protocol_config = config_for(protocol, config, leave_out)
        if protocol == "rolling":
            cases = rolling_cases(
                events, categories, origins, config.future_fraction, config.half_life_ms
            )
            report = measure_rolling(
                cases, categories, protocol_config, temporal_report, _echo_origin
            )
            what = f"{report.protocol} (temporal, pooled over {len(report.origins)} origins)"
        else:
            case = make_case(protocol, events, categories, config, leave_out)
            report = measure(case, categories, protocol_config)
            what = case.protocol
            if protocol == "temporal":
                temporal_report = report
        click.echo(
            f"\n{name} / {what}: {report.users} users, {report.interactions} "
            f"interactions evaluated; trained on {report.train_events} events in "
            f"{report.train_s:.0f} s; package {report.package_bytes / 1e6:.1f} MB\n"
        )
        click.echo(report.scoring_text() + "\n")
        click.echo(markdown(report))
        if no_mlflow:
            continue
        params = {**protocol_config.params(), "log": name, "protocol": report.protocol}
        if source.log:
            params.update({f"sha256.{f}": h for f, h in LOGS[source.log].files.items()})
        run_id = log_run(
            tracking_uri, "streamrec-quality", f"{name}/{report.protocol}", params, report.metrics()
        )
        click.echo(f"MLflow run {run_id} at {tracking_uri}")


def _echo_origin(k: int, case: EvalCase, report: ProtocolReport | None) -> None:
    """One rolling origin: where it cuts, whom it evaluates, model vs popularity."""
    day = time.strftime("%Y-%m-%d", time.gmtime(case.train_events[-1].ts / 1000))
    if report is None:
        click.echo(f"origin {k}: trained up to {day}, no user to evaluate, skipped")
        return
    model, popular = (report.table[m]["recall_at_20"] for m in ("model", "popularity"))
    ratio = f"{model / popular:.2f}x" if popular else "n/a"
    click.echo(
        f"origin {k}: trained up to {day}, {report.users} users; Recall@20 model "
        f"{model:.4f}, popularity {popular:.4f} ({ratio})"
    )
