"""The data-source options of ``streamrec model train`` and ``evaluate``: where the
interactions come from (generated JSONL, MovieLens files, a mapped CSV, a catalogued public
log) and how the engaged-item history is used."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

engaged_history_option = click.option(
    "--engaged-history/--no-engaged-history",
    default=True,
    show_default=True,
    help="Let the training data decide how scoring uses each user's engaged-item history "
    "(whole-history seen filter, or re-engagement candidates with a fitted score blend); "
    "off: the recent-items filter and the retrieval score alone.",
)
transitions_option = click.option(
    "--transitions/--no-transitions",
    default=True,
    show_default=True,
    help="With --engaged-history, also score where each user's newest engaged items lead "
    "(item-to-next-item transitions fitted on the training events, carried in the package); "
    "off: the previous release's blend.",
)

blend_origins_option = click.option(
    "--blend-origins",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="At most this many inner temporal splits (consecutive origins) fit the score "
    "blend, pooled, added until they hold 100 users; each trains the towers once more. "
    "1: the newest inner split alone.",
)

# streamrec.datasets.catalog.LOGS without importing it (a unit test keeps them equal).
LOG_NAMES = ("movielens-2016", "movielens-small", "online-retail", "online-retail-slice", "taobao")


def file_option(*decls: str, help: str) -> Any:
    return click.option(
        *decls, type=click.Path(exists=True, dir_okay=False, path_type=Path), help=help
    )


def source_options(command: Any) -> Any:
    """The data-source options shared by ``train`` and ``evaluate``."""
    options = [
        file_option("--events", "events_path", help="JSONL events (from `model generate`)."),
        file_option(
            "--items", "items_path", help="Catalogue CSV item_id,category for --events or --csv."
        ),
        file_option("--movielens", help="MovieLens u.data file."),
        file_option("--movielens-items", help="MovieLens u.item file (genres become categories)."),
        file_option("--csv", "csv_path", help="Generic CSV of interactions; see --csv-map."),
        click.option(
            "--csv-map",
            default="",
            help="Column mapping, e.g. user=uid,item=sku,ts=time,rating=stars,ts_unit=s",
        ),
        click.option(
            "--log",
            type=click.Choice(LOG_NAMES),
            help="A public log of docs/quality.md (its files checked by sha256).",
        ),
        click.option(
            "--data-dir",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            help="Directory holding the --log files (streamrec/datasets/catalog.py).",
        ),
    ]

    @functools.wraps(command)
    def with_source(**kwargs: Any) -> Any:
        fields = {f.name: kwargs.pop(f.name) for f in dataclasses.fields(DataSource)}
        return command(source=DataSource(**fields), **kwargs)

    for option in reversed(options):
        with_source = option(with_source)
    return with_source


@dataclass(frozen=True)
class DataSource:
    """What the source options said; at most one of events, movielens, csv, log."""

    events_path: Path | None
    items_path: Path | None
    movielens: Path | None
    movielens_items: Path | None
    csv_path: Path | None
    csv_map: str
    log: str | None
    data_dir: Path | None

    @property
    def name(self) -> str:
        return self.log or Path(str(self.movielens or self.csv_path or self.events_path)).name


def load_source(source: DataSource) -> tuple[list[Any], dict[str, str]] | None:
    """(events, item categories) from the one source given; None when none is."""
    from streamrec.model_registry import loaders

    events_path, items_path, csv_path = source.events_path, source.items_path, source.csv_path
    movielens, log, data_dir = source.movielens, source.log, source.data_dir
    sources = [p for p in (events_path, movielens, csv_path, log) if p is not None]
    if len(sources) > 1:
        raise click.ClickException("give at most one of --events, --movielens, --csv, --log")
    categories: dict[str, str] = loaders.load_items_csv(items_path) if items_path else {}
    if log:
        from streamrec.datasets.catalog import load_log

        if data_dir is None:
            raise click.ClickException(f"--log {log} needs --data-dir holding its files")
        return load_log(log, data_dir)
    if movielens:
        events = loaders.load_movielens(movielens)
        if source.movielens_items:
            categories = loaders.load_movielens_items(source.movielens_items)
        return events, categories
    if csv_path:
        return loaders.load_csv(csv_path, csv_mapping(source.csv_map)), categories
    if events_path:
        events, rejected = loaders.load_jsonl(events_path)
        if rejected:
            click.echo(f"skipped invalid records: {dict(rejected)}")
        return events, categories
    return None


def csv_mapping(spec: str) -> Any:
    from streamrec.model_registry.loaders import CsvMapping

    fields = {"user", "item", "ts", "type", "rating", "ts_unit", "default_type"}
    pairs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in fields:
            raise click.ClickException(
                f"--csv-map entry {part!r}: expected KEY=COLUMN with KEY in {sorted(fields)}"
            )
        pairs[key] = value
    return CsvMapping(**pairs)
