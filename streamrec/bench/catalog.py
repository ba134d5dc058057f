"""The benchmark's model and traffic for a catalogue size, trained once and cached.

A real two-tower + ranker is trained on a generated world of ``n_items`` items
(``TrainConfig.full_catalog``: every item is served, unseen ones as cold-start items), so
retrieval runs over exactly ``n_items`` 64-dim embeddings. The traffic is the world's
newest events as (user, item, type) triples: every system under test replays the same
ones, with fresh event ids and send-time timestamps.

Training takes about a minute at 10K items and a few at 100K on 2 cores; the package and
the traffic are kept in ``<cache dir>/catalog-<n_items>/`` and reused while the settings
below are unchanged (they are part of the directory's fingerprint).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from streamrec.contracts.event import Event
from streamrec.model_package.package import (
    FORMAT_VERSION,
    LoadedModel,
    build_package,
    load_package,
    read_manifest,
)
from streamrec.model_registry.synthetic import SyntheticConfig, generate
from streamrec.model_registry.train import TrainConfig
from streamrec.state.features import DEFAULT_HALF_LIFE_MS, UserFeatures, default_spec, update

MODEL_NAME = "streamrec-bench"
TRAFFIC_EVENTS = 200_000


@dataclass(frozen=True)
class Catalog:
    n_items: int
    package: bytes
    traffic: list[tuple[str, str | None, str]]
    """(user_id, item_id, type), oldest first."""
    item_categories: dict[str, str]

    @property
    def version(self) -> str:
        return read_manifest(self.package).version

    def load(self) -> LoadedModel:
        return load_package(self.package, default_spec(DEFAULT_HALF_LIFE_MS))

    def events(self, count: int, prefix: str, offset: int = 0) -> list[dict[str, Any]]:
        """``count`` traffic events as JSON-ready dicts with ids unique to ``prefix``; the
        traffic wraps around when ``count`` exceeds it. ``ts`` is set when sent."""
        n = len(self.traffic)
        out = []
        for i in range(count):
            user, item, kind = self.traffic[(offset + i) % n]
            out.append(
                {"event_id": f"{prefix}-{i}", "user_id": user, "item_id": item, "type": kind}
            )
        return out


MODEL_KINDS = ("ranker", "blend", "blend-no-transitions")
"""The benchmark's model (two towers + ranker), or the CLI's default model (a fitted blend
with item transitions; the generated world's repeat rate makes it the re-engagement
blend), with or without the transitions: the last two let the drain A/B the blend's
scoring cost."""


def settings(n_items: int, kind: str = "ranker") -> tuple[SyntheticConfig, TrainConfig]:
    if kind not in MODEL_KINDS:
        raise ValueError(f"model kind must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    train = TrainConfig(embedding_dim=64, epochs=2, full_catalog=True)
    if kind != "ranker":
        train = replace(train, use_ranker=False, transitions=kind == "blend")
    return SyntheticConfig(seed=11, n_items=n_items), train


def load_or_build(
    n_items: int, cache_dir: Path, progress: Callable[[str], None] = print, kind: str = "ranker"
) -> Catalog:
    world, train_config = settings(n_items, kind)
    fingerprint = hashlib.sha256(
        # The package format too: a cached package of an older format no longer loads.
        json.dumps([asdict(world), asdict(train_config), TRAFFIC_EVENTS, FORMAT_VERSION]).encode()
    ).hexdigest()[:12]
    where = cache_dir / f"catalog-{n_items}-{fingerprint}"
    package_path, traffic_path = where / "model.zip", where / "traffic.json"
    if package_path.exists() and traffic_path.exists():
        cached = json.loads(traffic_path.read_text())
        progress(f"catalog {n_items}: cached model and traffic in {where}")
        return Catalog(
            n_items,
            package_path.read_bytes(),
            [tuple(t) for t in cached["traffic"]],
            cached["item_categories"],
        )
    from streamrec.model_registry.train import train

    progress(f"catalog {n_items}: generating the world and training (first run only)")
    data = generate(world)
    result = train(data.events, data.item_categories, train_config)
    recall = result.metrics.get("recall_at_20")
    progress(f"catalog {n_items}: trained, recall@20 {recall:.3f} (lift {_lift(result.metrics)})")
    package = build_package(result.artifacts, MODEL_NAME, str(n_items), result.metrics)
    traffic = [(e.user_id, e.item_id, e.type) for e in data.events[-TRAFFIC_EVENTS:]]
    where.mkdir(parents=True, exist_ok=True)
    traffic_path.write_text(
        json.dumps({"traffic": traffic, "item_categories": data.item_categories})
    )
    package_path.write_bytes(package)
    return Catalog(n_items, package, traffic, data.item_categories)


def feature_batches(
    catalog: Catalog, count: int, batch_size: int, now_ms: int
) -> Iterator[list[UserFeatures]]:
    """The features the job would score for ``count`` traffic events, in batches: each
    event folded into its user's state in order, the state after it is the row."""
    states: dict[str, UserFeatures] = {}
    batch: list[UserFeatures] = []
    for n, e in enumerate(catalog.events(count, "c")):
        event = Event(e["event_id"], e["user_id"], e["item_id"], e["type"], now_ms + n)
        states[event.user_id] = update(
            states.get(event.user_id, UserFeatures()), event, catalog.item_categories
        )
        batch.append(states[event.user_id])
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _lift(metrics: dict[str, float]) -> str:
    lift = metrics.get("recall_at_20_lift")
    return "n/a" if lift is None else f"{lift:.2f}x over popularity"
