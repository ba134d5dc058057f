"""Seeded generator of realistic interaction streams in the Event contract.

The world: items belong to categories and have latent vectors near their category's
centroid; users prefer a few categories (Dirichlet) and have a latent taste vector.
Item popularity is Zipf-like and drifts (items rise and fade); new users and items
arrive over time. Users act in sessions focused on one category, walking a funnel
request -> impression -> view -> click -> add -> purchase. A configurable share of
records is malformed, for dead-letter tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streamrec.contracts.event import MAX_EVENT_BYTES, Event

DAY_MS = 24 * 3600 * 1000
MALFORMATION_KINDS: tuple[str, ...] = (
    "bad_json",
    "missing_field",
    "wrong_type",
    "unknown_type",
    "future_ts",
    "oversized",
)


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and shape of the generated world. Defaults train in about a minute on 2 cores."""

    seed: int = 7
    n_users: int = 3000
    n_items: int = 2000
    n_categories: int = 20
    days: int = 28
    start_ms: int = 1_704_067_200_000  # 2024-01-01T00:00:00Z
    sessions_per_user: float = 8.0
    items_per_session: float = 5.0
    new_user_share: float = 0.25
    new_item_share: float = 0.15
    zipf_exponent: float = 1.0
    # Weight of log-popularity against personal taste in a user's choice.
    popularity_weight: float = 0.6
    # Softmax temperature of personal taste; lower means more personal behaviour.
    taste_temperature: float = 0.5
    # Extra preference for the session's focus category (multiplier on probability).
    session_focus: float = 8.0
    # Spread of per-item log-popularity trend over the whole period.
    drift_strength: float = 1.5
    malformed_share: float = 0.0
    latent_dim: int = 16


@dataclass(frozen=True)
class MalformedRecord:
    """A raw record that must not parse, and which malformation it carries."""

    kind: str
    raw: bytes
    ts: int


@dataclass
class GeneratedData:
    events: list[Event]
    """Valid events, sorted by ts."""
    item_categories: dict[str, str]
    """Catalogue: item id -> category name."""
    malformed: list[MalformedRecord] = field(default_factory=list)


def generate(config: SyntheticConfig) -> GeneratedData:
    """Generate a world and its event stream; the same config gives the same output."""
    rng = np.random.default_rng(config.seed)
    world = _World(config, rng)
    events: list[Event] = []
    for user in range(config.n_users):
        events.extend(world.user_events(user))
    events.sort(key=lambda e: (e.ts, e.event_id))
    malformed = _malform(events, config, rng) if config.malformed_share > 0 else []
    categories = {f"i{i}": f"c{int(c)}" for i, c in enumerate(world.item_cat)}
    return GeneratedData(events, categories, malformed)


@dataclass(frozen=True)
class LatentWorld:
    """The generator's hidden truth about items, for simulating users who act on it
    (streamrec.simulation): the same seed gives the items the generated log has."""

    config: SyntheticConfig
    item_ids: list[str]
    item_vec: np.ndarray
    """float [N, latent_dim]: each item's position in taste space."""
    item_cat: np.ndarray
    centroids: np.ndarray
    """float [categories, latent_dim]."""
    logpop: np.ndarray
    """Item log-popularity at the end of the log (-inf: not yet released)."""

    def sample_tastes(self, n_users: int, rng: np.random.Generator) -> np.ndarray:
        """Affinity [n_users, N] of new users drawn as the generator draws its users."""
        cfg = self.config
        pref = rng.dirichlet(np.full(cfg.n_categories, 0.15), size=n_users)
        taste = pref @ self.centroids + 0.5 * rng.normal(size=(n_users, cfg.latent_dim))
        return (taste @ self.item_vec.T) / np.sqrt(cfg.latent_dim) / cfg.taste_temperature


def latent_world(config: SyntheticConfig) -> LatentWorld:
    world = _World(config, np.random.default_rng(config.seed))
    return LatentWorld(
        config,
        [f"i{i}" for i in range(config.n_items)],
        world.item_vec,
        world.item_cat,
        world.centroids,
        world.logpop(world.span),
    )


class _World:
    def __init__(self, cfg: SyntheticConfig, rng: np.random.Generator) -> None:
        self.cfg, self.rng = cfg, rng
        n_i, n_c, dim = cfg.n_items, cfg.n_categories, cfg.latent_dim
        self.span = cfg.days * DAY_MS
        centroids = rng.normal(size=(n_c, dim))
        # Category sizes are uneven, as in real catalogues.
        cat_p = rng.dirichlet(np.full(n_c, 2.0))
        self.item_cat = rng.choice(n_c, size=n_i, p=cat_p)
        self.item_vec = centroids[self.item_cat] + 0.7 * rng.normal(size=(n_i, dim))
        ranks = rng.permutation(n_i) + 1
        self.base_logpop = -cfg.zipf_exponent * np.log(ranks)
        self.trend = rng.uniform(-1.0, 1.0, size=n_i) * cfg.drift_strength
        is_new = rng.random(n_i) < cfg.new_item_share
        self.birth = np.where(is_new, rng.uniform(0.05, 0.95, size=n_i) * self.span, 0.0)
        self.is_new_item = is_new
        self.centroids = centroids
        self.cat_members = [np.flatnonzero(self.item_cat == c) for c in range(n_c)]

    def logpop(self, t: float) -> np.ndarray:
        """Item log-popularity at offset t; unborn items get -inf."""
        frac = t / self.span - 0.5
        lp = self.base_logpop + self.trend * frac
        # Freshly arrived items get a novelty bump that fades over about three days.
        age = t - self.birth
        lp = lp + np.where(self.is_new_item, 2.0 * np.exp(-np.maximum(age, 0) / (3 * DAY_MS)), 0.0)
        return np.where(age >= 0, lp, -np.inf)

    def user_events(self, user: int) -> Iterator[Event]:
        cfg, rng = self.cfg, self.rng
        pref = rng.dirichlet(np.full(cfg.n_categories, 0.15))
        taste = pref @ self.centroids + 0.5 * rng.normal(size=cfg.latent_dim)
        affinity = (self.item_vec @ taste) / np.sqrt(cfg.latent_dim) / cfg.taste_temperature
        arrival = rng.uniform(0.0, 0.9) * self.span if rng.random() < cfg.new_user_share else 0.0
        activity = rng.lognormal(0.0, 0.7)
        n_sessions = 1 + rng.poisson(max(cfg.sessions_per_user * activity - 1, 0.0))
        starts = np.sort(rng.uniform(arrival, self.span, size=n_sessions))
        uid = f"u{user}"
        for s, start in enumerate(starts):
            focus = rng.choice(cfg.n_categories, p=pref)
            logits = cfg.popularity_weight * self.logpop(start) + affinity
            logits[self.cat_members[focus]] += np.log(cfg.session_focus)
            yield from self._session(uid, f"{uid}s{s}", int(start), logits)

    def _session(self, uid: str, sid: str, start: int, logits: np.ndarray) -> Iterator[Event]:
        cfg, rng = self.cfg, self.rng
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        ts = self.cfg.start_ms + start
        n = 0

        def ev(etype: str, item: int | None) -> Event:
            nonlocal n
            n += 1
            if item is None:
                return Event(f"{sid}e{n}", uid, None, etype, ts, {"session": sid})
            # The category as a client would send it: what per-category trending reads.
            context = {"session": sid, "category": f"c{int(self.item_cat[item])}"}
            return Event(f"{sid}e{n}", uid, f"i{item}", etype, ts, context)

        yield ev("request", None)
        # What an existing popularity-driven recommender showed the user.
        live = np.isfinite(logits)
        pop = np.exp(self.logpop(start)[live])
        shown = rng.choice(np.flatnonzero(live), size=min(5, int(live.sum())), p=pop / pop.sum())
        for item in shown:
            yield ev("impression", int(item))
        count = int(rng.geometric(1.0 / cfg.items_per_session))
        picks = rng.choice(len(probs), size=count, p=probs)
        for item in dict.fromkeys(int(i) for i in picks):
            ts += int(rng.exponential(40_000)) + 1000
            yield ev("view", item)
            if rng.random() < 0.4:
                ts += int(rng.exponential(10_000)) + 500
                yield ev("click", item)
                if rng.random() < 0.3:
                    ts += int(rng.exponential(20_000)) + 500
                    yield ev("add", item)
                    if rng.random() < 0.5:
                        ts += int(rng.exponential(60_000)) + 500
                        yield ev("purchase", item)


def _malform(
    events: list[Event], cfg: SyntheticConfig, rng: np.random.Generator
) -> list[MalformedRecord]:
    count = round(len(events) * cfg.malformed_share)
    out: list[MalformedRecord] = []
    for n, pos in enumerate(rng.choice(len(events), size=count, replace=count > len(events))):
        src = events[int(pos)].to_dict()
        kind = MALFORMATION_KINDS[n % len(MALFORMATION_KINDS)]
        src["event_id"] = f"bad{n}"
        if kind == "bad_json":
            raw = json.dumps(src)[:-7].encode()
        elif kind == "missing_field":
            del src[("user_id", "ts", "type")[n % 3]]
            raw = json.dumps(src).encode()
        elif kind == "wrong_type":
            src["ts"] = str(src["ts"])
            raw = json.dumps(src).encode()
        elif kind == "unknown_type":
            src["type"] = "hover"
            raw = json.dumps(src).encode()
        elif kind == "future_ts":
            src["ts"] = src["ts"] + 3650 * DAY_MS
            raw = json.dumps(src).encode()
        else:
            src["context"] = {"blob": "x" * (MAX_EVENT_BYTES + 1)}
            raw = json.dumps(src).encode()
        out.append(MalformedRecord(kind, raw, events[int(pos)].ts))
    return out


def write_jsonl(data: GeneratedData, events_path: Path, items_path: Path | None = None) -> int:
    """Write valid and malformed records interleaved by ts (one per line); return the count.

    The catalogue goes to ``items_path`` as CSV ``item_id,category`` when given.
    """
    records = [(e.ts, e.to_json().encode()) for e in data.events]
    records += [(m.ts, m.raw) for m in data.malformed]
    records.sort(key=lambda r: r[0])
    with open(events_path, "wb") as fh:
        for _, raw in records:
            fh.write(raw.replace(b"\n", b" ") + b"\n")
    if items_path is not None:
        with open(items_path, "w", encoding="utf-8") as fh:
            fh.write("item_id,category\n")
            for item, cat in data.item_categories.items():
                fh.write(f"{item},{cat}\n")
    return len(records)
