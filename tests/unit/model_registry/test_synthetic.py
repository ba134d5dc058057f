from collections import Counter

from streamrec.contracts.event import EVENT_TYPES
from streamrec.model_registry.loaders import load_items_csv, load_jsonl
from streamrec.model_registry.synthetic import SyntheticConfig, generate, write_jsonl

CFG = SyntheticConfig(seed=5, n_users=200, n_items=120, days=10, malformed_share=0.02)


def test_seeded_and_sorted() -> None:
    a, b = generate(CFG), generate(CFG)
    assert a.events == b.events and [m.raw for m in a.malformed] == [m.raw for m in b.malformed]
    assert [e.ts for e in a.events] == sorted(e.ts for e in a.events)
    assert generate(SyntheticConfig(seed=6, n_users=200, n_items=120, days=10)).events != a.events


def test_realistic_shape() -> None:
    data = generate(CFG)
    assert set(Counter(e.type for e in data.events)) == set(EVENT_TYPES)
    views = Counter(e.item_id for e in data.events if e.type == "view")
    top = sum(c for _, c in views.most_common(12))
    assert top > 0.25 * sum(views.values())  # Zipf-like: 10% of items take a large share
    first_seen: dict[str, int] = {}
    for e in data.events:
        if e.item_id:
            first_seen.setdefault(e.item_id, e.ts)
    start = data.events[0].ts
    late = [i for i, ts in first_seen.items() if ts > start + 2 * 86_400_000]
    assert late  # items arrive over time
    users_first = {}
    for e in data.events:
        users_first.setdefault(e.user_id, e.ts)
    assert any(ts > start + 2 * 86_400_000 for ts in users_first.values())


def test_written_file_reloads_with_malformed_counted(tmp_path) -> None:
    data = generate(CFG)
    n = write_jsonl(data, tmp_path / "e.jsonl", tmp_path / "items.csv")
    events, rejected = load_jsonl(tmp_path / "e.jsonl")
    assert n == len(data.events) + len(data.malformed)
    # A far-future ts parses without a clock; the job's edge rejects it with now_ms.
    future = sum(m.kind == "future_ts" for m in data.malformed)
    assert future > 0
    assert len(events) == len(data.events) + future
    assert sum(rejected.values()) == len(data.malformed) - future
    assert load_items_csv(tmp_path / "items.csv") == data.item_categories


def test_item_events_carry_their_category_in_context_as_clients_would() -> None:
    data = generate(SyntheticConfig(seed=3, n_users=20, n_items=50))
    with_items = [e for e in data.events if e.item_id is not None]
    assert with_items
    assert all(e.context["category"] == data.item_categories[e.item_id] for e in with_items)
