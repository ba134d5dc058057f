"""The scoring worker as the operator uses it: a real subprocess over pipes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections.abc import Iterator

import pytest

from streamrec.contracts.event import Event
from streamrec.model_package.errors import PackageRejectedError
from streamrec.model_package.package import load_package
from streamrec.model_registry.synthetic import GeneratedData
from streamrec.scoring.batch_answer import BatchRequest
from streamrec.scoring.pipeline import ScoringConfig, score_batch
from streamrec.scoring.popularity import FALLBACK_VERSION
from streamrec.scoring.worker import WorkerSettings
from streamrec.scoring.worker_client import ScoringWorker
from streamrec.state.features import UserFeatures, default_spec, empty, update

RULES = b'{"version": "r1", "exclude_categories": ["c0"]}'


@pytest.fixture
def worker() -> Iterator[ScoringWorker]:
    w = ScoringWorker(WorkerSettings(k=10, num_candidates=50, tf_threads=1))
    w.start()
    yield w
    w.close()


def batch(data: GeneratedData, n: int) -> BatchRequest:
    events, features = [], []
    state: dict[str, UserFeatures] = {}
    for e in data.events[:n]:
        state[e.user_id] = update(state.get(e.user_id, empty()), e, data.item_categories)
        events.append(Event(e.event_id, e.user_id, e.item_id, e.type, e.ts))
        features.append(state[e.user_id])
    return BatchRequest(events, features)


def item_lists(values: list[str]) -> list[list[str]]:
    return [[i["item_id"] for i in json.loads(v)["items"]] for v in values]


def test_scores_like_score_batch_in_process_and_names_the_version(
    worker: ScoringWorker, package_bytes: bytes, small_data: GeneratedData
) -> None:
    served = worker.load_model(package_bytes, hashlib.sha256(package_bytes).hexdigest())
    assert served.version == "1" and served.category_of
    request = batch(small_data, 40)
    answer = worker.score(request)
    report = worker.written()
    local = load_package(package_bytes, default_spec())
    expected = score_batch(local, request.features, ScoringConfig(k=10, num_candidates=50))
    assert item_lists(answer.values) == [
        [s.item_id for s in recs] for recs in expected.recommendations
    ]
    records = [json.loads(v) for v in answer.values]
    assert [r["event_id"] for r in records] == [e.event_id for e in request.events]
    assert answer.user_ids == [e.user_id for e in request.events]
    assert {r["model_version"] for r in records} == {"1"}
    assert report.rows_rejected == 0 and answer.recommendations == []


def test_popularity_before_a_model_and_rules_apply(
    worker: ScoringWorker, package_bytes: bytes, small_data: GeneratedData
) -> None:
    first = worker.score(batch(small_data, 30))
    worker.written()
    assert {json.loads(v)["model_version"] for v in first.values} == {FALLBACK_VERSION}
    served = worker.load_model(package_bytes, hashlib.sha256(package_bytes).hexdigest())
    worker.set_rules(RULES)
    answer = worker.score(batch(small_data, 30))
    worker.written()
    for record in map(json.loads, answer.values):
        assert record["rules_version"] == "r1"
        assert all(served.category_of[i["item_id"]] != "c0" for i in record["items"])


def test_a_bad_package_is_rejected_and_the_previous_model_keeps_serving(
    worker: ScoringWorker, package_bytes: bytes, small_data: GeneratedData
) -> None:
    worker.load_model(package_bytes, hashlib.sha256(package_bytes).hexdigest())
    broken = package_bytes[: len(package_bytes) // 2]
    with pytest.raises(PackageRejectedError) as rejected:
        worker.load_model(broken, hashlib.sha256(broken).hexdigest())
    assert rejected.value.reason == "bad_package"
    answer = worker.score(batch(small_data, 5))
    worker.written()
    assert answer.model_version == "1"


def test_a_killed_worker_is_restarted_with_its_model_and_rules(
    worker: ScoringWorker, package_bytes: bytes, small_data: GeneratedData
) -> None:
    worker.load_model(package_bytes, hashlib.sha256(package_bytes).hexdigest())
    worker.set_rules(RULES)
    first_pid = worker.pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)
    answer = worker.score(batch(small_data, 10))
    worker.written()
    assert worker.restarts == 1 and worker.pid != first_pid
    assert answer.model_version == "1"
    assert {json.loads(v)["rules_version"] for v in answer.values} == {"r1"}
