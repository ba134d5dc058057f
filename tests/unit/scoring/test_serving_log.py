"""The worker builds one serving-features record per recommendation of a logged user, in
the same pass as the recommendations, holding the exact features the batch was scored with."""

from __future__ import annotations

import hashlib
import json

import pytest

from streamrec.contracts.event import Event
from streamrec.contracts.serving_features import parse_serving_features
from streamrec.model_registry.synthetic import GeneratedData
from streamrec.scoring import serving_log
from streamrec.scoring.batch_answer import BatchRequest, FeatureLog, answer_batch
from streamrec.scoring.popularity import PopularityFallback
from streamrec.scoring.serving_log import logs_user
from streamrec.scoring.worker import WorkerSettings
from streamrec.scoring.worker_client import ScoringWorker
from streamrec.state.features import UserFeatures, default_spec, empty, update

CATEGORY_OF = {"a": "books", "b": "toys", "c": "books"}


def user_events(user: str, items: list[str], start: int = 1_000) -> list[Event]:
    return [
        Event(f"{user}-{n}", user, item, "click" if n % 2 else "view", start + n, {"n": n})
        for n, item in enumerate(items)
    ]


def folded(events: list[Event]) -> list[UserFeatures]:
    states: dict[str, UserFeatures] = {}
    out = []
    for e in events:
        states[e.user_id] = update(states.get(e.user_id, empty()), e, CATEGORY_OF)
        out.append(states[e.user_id])
    return out


def test_one_record_per_recommendation_with_the_features_it_was_scored_with() -> None:
    events = user_events("u1", ["a", "b", "a"]) + user_events("u2", ["c"])
    features = folded(events)
    spec = default_spec()
    answer = answer_batch(
        BatchRequest(events, features), None, None, PopularityFallback(), 3, 10, "brute",
        feature_log=FeatureLog(spec, 1.0),
    )  # fmt: skip
    logged = answer.features
    assert logged.user_ids == [e.user_id for e in events]
    recs = [json.loads(v) for v in answer.values]
    for event, after, rec, value in zip(events, features, recs, logged.values, strict=True):
        record = parse_serving_features(value)
        assert record.event_id == event.event_id == rec["event_id"]
        assert dict(record.features) == after.to_dict()
        assert UserFeatures.from_dict(record.features) == after
        assert (record.item_id, record.event_type, dict(record.context)) == (
            event.item_id, event.type, event.context,
        )  # fmt: skip
        assert [(i.item_id, i.position) for i in record.items] == [
            (item["item_id"], n) for n, item in enumerate(rec["items"])
        ]
        assert (record.model_version, record.strategy) == (rec["model_version"], rec["strategy"])
        assert (record.feature_spec.name, record.feature_spec.version) == (spec.name, spec.version)
    assert logged.dropped == 0


def test_rate_zero_or_no_log_builds_nothing() -> None:
    events = user_events("u1", ["a"])
    request = BatchRequest(events, folded(events))
    off = answer_batch(request, None, None, PopularityFallback(), 3, 10, "brute",
                       feature_log=FeatureLog(default_spec(), 0.0))  # fmt: skip
    none = answer_batch(request, None, None, PopularityFallback(), 3, 10, "brute")
    assert off.features.values == none.features.values == []
    assert len(off.values) == 1


def test_users_are_sampled_whole_and_the_same_way_every_time() -> None:
    users = [f"user-{n}" for n in range(4000)]
    kept = [u for u in users if logs_user(u, 0.25)]
    assert 0.2 < len(kept) / len(users) < 0.3
    assert kept == [u for u in users if logs_user(u, 0.25)]
    events = [e for u in users[:200] for e in user_events(u, ["a", "b"])]
    answer = answer_batch(BatchRequest(events, folded(events)), None, None,
                          PopularityFallback(), 3, 10, "brute",
                          feature_log=FeatureLog(default_spec(), 0.25))  # fmt: skip
    per_user = {u: answer.features.user_ids.count(u) for u in set(answer.features.user_ids)}
    assert per_user and set(per_user.values()) == {2}  # both records of a logged user
    assert set(per_user) == {u for u in users[:200] if logs_user(u, 0.25)}


def test_a_record_over_the_bound_is_dropped_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    big = "x" * 250
    events = [Event(f"e{n}", "u1", f"{big}{n}", "view", 1_000 + n) for n in range(200)]
    events += [Event("huge", "u1", "a", "view", 5_000, {f"k{n}": "y" * 200 for n in range(60)})]
    features = folded(events)
    # The engaged ids fill ~50 KiB and the context 12 KiB more: a bound between the two
    # stands in for the real one without building megabytes.
    monkeypatch.setattr(serving_log, "MAX_SERVING_FEATURES_BYTES", 60_000)
    answer = answer_batch(
        BatchRequest(events, features), None, None, PopularityFallback(), 3, 10, "brute",
        feature_log=FeatureLog(default_spec(), 1.0),
    )  # fmt: skip
    assert answer.features.dropped == 1
    assert "huge" not in {json.loads(v)["event_id"] for v in answer.features.values}
    assert len(answer.values) == len(events)  # the recommendation itself still goes out


def test_the_worker_process_sends_the_records_back_with_the_batch(
    package_bytes: bytes, small_data: GeneratedData
) -> None:
    worker = ScoringWorker(WorkerSettings(k=5, num_candidates=50, tf_threads=1,
                                          serving_features_rate=1.0))  # fmt: skip
    worker.start()
    try:
        served = worker.load_model(package_bytes, hashlib.sha256(package_bytes).hexdigest())
        known = [e for e in small_data.events if e.item_id in served.category_of][:5]
        features = folded(known)
        answer = worker.score(BatchRequest(known, features))
        worker.written()
    finally:
        worker.close()
    records = [parse_serving_features(v) for v in answer.features.values]
    assert [r.event_id for r in records] == [e.event_id for e in known]
    assert [UserFeatures.from_dict(r.features) for r in records] == features
    assert {r.model_version for r in records} == {answer.model_version} != {"fallback:popularity"}
