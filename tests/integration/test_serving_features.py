"""Logged serving features on the real stack: one record per recommendation on the
serving-features topic (read_committed), keyed by user, with the recommendation's event_id
and the user's state right after its event, equal to what folding the same events gives;
exported back from Kafka, they pair into the training examples the fold builds."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from streamrec.contracts.event import Event
from streamrec.contracts.serving_features import parse_serving_features
from streamrec.model_registry.examples import fold
from streamrec.model_registry.serving_log import logged_examples, read_serving_log
from streamrec.model_registry.serving_log_export import export_topic
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.state.features import UserFeatures, empty, update
from tests.integration.job_harness import (
    EventProducer,
    JobTopics,
    RecommendationReader,
    TopicReader,
    now_ms,
    submit_job,
)


def pairs(features: list[UserFeatures], items: list[str]) -> list[str]:
    """(features, label) pairs in a comparable order."""
    pairs = zip(features, items, strict=True)
    return sorted(json.dumps([f.to_dict(), i], sort_keys=True) for f, i in pairs)


def test_each_recommendation_logs_the_features_it_was_scored_with(
    stack_config: StackConfig, tmp_path: Path
) -> None:
    topics = JobTopics(f"sf_{uuid.uuid4().hex[:8]}")
    # No model: popularity answers, and the fold sees no catalogue (every category unknown),
    # so the expected state is update() with an empty lookup.
    job_id = submit_job(stack_config, topics)
    recs = RecommendationReader(stack_config.kafka_bootstrap, topics.recommendations)
    logged = TopicReader(stack_config.kafka_bootstrap, f"{topics.prefix}_serving-features")
    try:
        start = now_ms()
        kinds = ["view", "click", "view", "add", "purchase"]
        events = [
            {"event_id": f"{topics.prefix}-{u}-{n}", "user_id": f"{topics.prefix}-u{u}",
             "item_id": f"i{(n * 7 + u) % 5}", "type": kinds[n], "ts": start + 10 * n + u,
             "context": {"page": "home", "n": n}}
            for u in range(2) for n in range(len(kinds))
        ]  # fmt: skip
        EventProducer(stack_config.kafka_bootstrap, topics.events).send(events)
        ids = {e["event_id"] for e in events}
        answers = recs.wait_for_events(ids)
        logged.until(
            lambda records: ids <= {json.loads(v)["event_id"] for _, v in records},
            90,
            f"serving features of {len(ids)} events",
        )
        logged.drain(1.0)  # a duplicate would show up now
        by_event: dict[str, list] = {}
        for key, value in logged.records:
            record = parse_serving_features(value)
            assert key is not None and key.decode() == record.user_id, "key must be user_id"
            by_event.setdefault(record.event_id, []).append(record)
        assert {e: len(r) for e, r in by_event.items() if len(r) != 1} == {}
        assert set(by_event) == ids  # one per recommendation, none for anything else

        states: dict[str, UserFeatures] = {}
        for raw in events:
            event = Event.from_dict(raw)
            states[event.user_id] = update(states.get(event.user_id, empty()), event, {})
            [record] = by_event[event.event_id]
            assert UserFeatures.from_dict(record.features) == states[event.user_id]
            answer = answers[event.event_id]
            assert sum(record.features["event_counts"].values()) == answer["events_seen"]
            assert [i.item_id for i in record.items] == [i["item_id"] for i in answer["items"]]
            assert (record.model_version, record.strategy) == (
                answer["model_version"], answer["strategy"],
            )  # fmt: skip
            # The parser hands the keyed operator no context (scoring does not read it).
            assert (record.item_id, record.event_type, dict(record.context)) == (
                event.item_id, event.type, {},
            )  # fmt: skip

        # The export command reads the same records back, and training pairs them into the
        # examples folding the events gives.
        exported = export_topic(stack_config.kafka_bootstrap, logged.topic, tmp_path / "log")
        assert exported.records == len(ids)
        examples = logged_examples(read_serving_log(tmp_path / "log"))
        folded = fold(sorted((Event.from_dict(e) for e in events), key=lambda e: e.ts), {})
        assert pairs(examples.features, examples.items) == pairs(
            folded.example_features, folded.example_items
        )
        assert len(examples.items) == 2 * (len(kinds) - 1)
    finally:
        recs.close()
        logged.close()
        flink_client.cancel_job(stack_config, job_id)
