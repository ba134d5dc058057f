"""Training input from the serving log: examples hold the logged features exactly (no
recomputation), labelled by the user's next engagement; bad lines are skipped and counted."""

from __future__ import annotations

import dataclasses
import json
from itertools import pairwise

import numpy as np
import pytest

from streamrec.contracts.event import Event
from streamrec.contracts.recommendation import Recommendation
from streamrec.model_package.vectorizer import FeatureVectorizer
from streamrec.model_registry.errors import DataError
from streamrec.model_registry.examples import fold
from streamrec.model_registry.serving_log import (
    categories_from_context,
    logged_examples,
    parse_lines,
)
from streamrec.model_registry.synthetic import GeneratedData
from streamrec.model_registry.train import TrainConfig, fit, logged_inputs
from streamrec.scoring.serving_log import feature_records
from streamrec.state.features import UserFeatures, default_spec, empty, update

CATEGORY_OF = {"a": "books", "b": "toys", "c": "books", "d": "games"}


def served_log(events: list[Event], category_of: dict[str, str] = CATEGORY_OF,
               version: str = "7", half_life_ms: int | None = None) -> list[bytes]:  # fmt: skip
    """The lines the job would log for ``events`` (in order), via the worker's builder."""
    spec = default_spec() if half_life_ms is None else default_spec(half_life_ms)
    states: dict[str, UserFeatures] = {}
    after = []
    for e in events:
        states[e.user_id] = update(states.get(e.user_id, empty()), e, category_of)
        after.append(states[e.user_id])
    recs = [Recommendation(e.event_id, e.user_id, [], version, "m", None, e.ts, e.ts + 1)
            for e in events]  # fmt: skip
    return [v.encode() for v in feature_records(recs, events, after, spec, 1.0).values]


def two_users() -> list[Event]:
    out = []
    for n, item in enumerate(["a", "b", "c", "a", "d", "b"]):
        kind = "request" if n == 2 else "view"
        out.append(Event(f"u1-{n}", "u1", None if kind == "request" else item, kind, 100 + n))
        out.append(Event(f"u2-{n}", "u2", item, "click", 200 + n, {"category": "x"}))
    return sorted(out, key=lambda e: e.ts)


def test_examples_equal_the_fold_of_the_same_events() -> None:
    events = two_users()
    logged = logged_examples(parse_lines(served_log(events)))
    folded = fold(events, CATEGORY_OF)
    assert logged.features == folded.example_features
    assert logged.items == folded.example_items
    assert logged.ts.tolist() == folded.example_ts.tolist()
    assert logged.events == sorted(events, key=lambda e: e.ts)


def test_examples_hold_the_logged_values_not_a_recomputation() -> None:
    """The job folded with the served model's catalogue; training with another one (or a
    changed fold) would recompute different features. The log's values win."""
    events = two_users()
    served_with = {"a": "served-cat", "b": "served-cat", "c": "served-cat", "d": "served-cat"}
    lines = served_log(events, served_with)
    logged = logged_examples(parse_lines(lines))
    records = [json.loads(line) for line in lines]
    by_event = {r["event_id"]: r["features"] for r in records}
    expected = []
    for user in ("u1", "u2"):
        mine = [r for r in records if r["user_id"] == user]
        for before, after in pairwise(mine):
            if after["event"]["type"] != "request" and before["features"]["recent_items"]:
                expected.append(by_event[before["event_id"]])
    assert [f.to_dict() for f in logged.features] == expected
    assert all(set(f.category_affinity) == {"served-cat"} for f in logged.features)
    recomputed = fold(events, CATEGORY_OF).example_features
    assert logged.features != recomputed  # what a recomputation would have trained on


def test_the_train_input_is_the_vectorized_logged_features() -> None:
    events = two_users()
    logged = logged_examples(parse_lines(served_log(events)))
    vectorizer = FeatureVectorizer(["a", "b", "c", "d"], ["books", "games", "toys"])
    cut = 204  # labels at ts >= cut are the held-out future
    inputs, targets = logged_inputs(logged, vectorizer, cut, TrainConfig())
    kept = [n for n, ts in enumerate(logged.ts) if ts < cut]
    expected = vectorizer.transform([logged.features[n] for n in kept])
    assert set(inputs) == set(expected)
    for name, array in expected.items():
        np.testing.assert_array_equal(inputs[name], array)
    assert targets.tolist() == [vectorizer.item_index[logged.items[n]] for n in kept]


def test_bad_lines_are_skipped_and_counted_with_their_line_number() -> None:
    lines = served_log(two_users())
    lines[3:3] = [b"{broken", b"", b'{"event_id": "x"}']
    served = parse_lines(lines)
    assert len(served.records) == len(lines) - 3
    assert dict(served.bad_lines) == {"bad_json": 1, "missing_field": 1}
    assert served.first_bad_line == {"bad_json": 4, "missing_field": 6}
    assert "bad_json: 1 (first at line 4)" in served.bad_summary()


def test_a_log_with_no_valid_record_is_refused() -> None:
    with pytest.raises(DataError, match=r"no valid record.*bad_json: 2"):
        parse_lines([b"nope", b"{"])


def test_a_gap_in_a_users_records_leaves_that_pair_out() -> None:
    events = [Event(f"e{n}", "u1", item, "view", 100 + n) for n, item in enumerate("abcd")]
    lines = served_log(events)
    del lines[2]  # the record of e2 is missing: e1's state did not precede e3
    logged = logged_examples(parse_lines(lines))
    assert logged.gaps == 1
    assert logged.items == ["b"]  # (state after e0 -> b); (after e1 -> d) is the gap


def test_replayed_records_are_used_once() -> None:
    lines = served_log(two_users())
    logged = logged_examples(parse_lines(lines + lines[:3]))
    assert logged.duplicates == 3
    assert logged.items == logged_examples(parse_lines(lines)).items


def test_several_model_versions_are_all_used_and_counted() -> None:
    events = two_users()
    lines = served_log(events[:6], version="7") + served_log(events, version="8")[6:]
    logged = logged_examples(parse_lines(lines))
    assert logged.model_versions == {"7": 6, "8": len(events) - 6}
    assert logged.features == fold(events, CATEGORY_OF).example_features


def test_a_log_mixing_feature_specs_is_refused() -> None:
    events = two_users()
    lines = served_log(events[:4]) + served_log(events, half_life_ms=1000)[4:]
    with pytest.raises(DataError, match="mixes feature specs"):
        logged_examples(parse_lines(lines))


def test_categories_come_from_the_events_context() -> None:
    logged = logged_examples(parse_lines(served_log(two_users())))
    assert categories_from_context(logged.events) == {i: "x" for i in "abcd"}


def test_fit_trains_the_towers_on_the_logged_examples(small_data: GeneratedData) -> None:
    events = small_data.events[:4000]
    logged = logged_examples(parse_lines(served_log(events, small_data.item_categories)))
    config = dataclasses.replace(TrainConfig(), epochs=1, embedding_dim=8, use_ranker=False,
                                 engaged_history=False, batch_size=256)  # fmt: skip
    fitted = fit(logged.events, small_data.item_categories, config, logged)
    assert fitted.artifacts.params["train_examples"] == len(logged.items) > 0
