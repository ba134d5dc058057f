"""The serving-features records of one batch (contracts.serving_features), built in the
scoring worker in the same pass that serializes the batch's recommendations.

Sampling is per user, not per event: a logged user has every one of its records logged,
so the training side can label each record with the user's next event
(model_registry.serving_log), which a per-event sample would cut.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from streamrec.contracts.event import Event
from streamrec.contracts.recommendation import Recommendation
from streamrec.contracts.serving_features import (
    MAX_SERVING_FEATURES_BYTES,
    FeatureSpecRef,
    ServedItem,
    ServingFeatures,
)
from streamrec.state.features import FeatureSpec, UserFeatures

log = logging.getLogger(__name__)

# Users are sampled by a hash of their id into this many buckets: rates are exact to 1e-4.
SAMPLE_BUCKETS = 10_000


@dataclass
class FeatureRecords:
    """The batch's serving-features records, in request order (sampled users only)."""

    user_ids: list[str]
    values: list[str]
    dropped: int = 0
    """Records over MAX_SERVING_FEATURES_BYTES, left out so the Kafka sink never fails."""


def logs_user(user_id: str, rate: float) -> bool:
    """Whether ``user_id``'s records are logged at ``rate`` (stable across batches,
    restarts and TaskManagers: crc32, not Python's salted hash)."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    return zlib.crc32(user_id.encode("utf-8")) % SAMPLE_BUCKETS < rate * SAMPLE_BUCKETS


def feature_records(
    recs: Sequence[Recommendation],
    events: Sequence[Event],
    features: Sequence[UserFeatures],
    spec: FeatureSpec,
    rate: float,
) -> FeatureRecords:
    """One record per recommendation of a logged user: the features it was scored with."""
    out = FeatureRecords([], [])
    if rate <= 0.0:
        return out
    spec_ref = FeatureSpecRef(spec.name, spec.version, spec.half_life_ms)
    for rec, event, after in zip(recs, events, features, strict=True):
        if not logs_user(rec.user_id, rate):
            continue
        value = ServingFeatures(
            event_id=rec.event_id,
            user_id=rec.user_id,
            event_ts=rec.event_ts,
            emitted_ts=rec.emitted_ts,
            model_version=rec.model_version,
            model_name=rec.model_name,
            rules_version=rec.rules_version,
            strategy=rec.strategy,
            feature_spec=spec_ref,
            features=after.to_dict(),
            event_type=event.type,
            item_id=event.item_id,
            items=[ServedItem(i.item_id, n, i.score) for n, i in enumerate(rec.items)],
            context=event.context,
        ).to_json()
        # json.dumps escapes non-ASCII, so characters are bytes.
        if len(value) > MAX_SERVING_FEATURES_BYTES:
            out.dropped += 1
            log.error("serving-features record of event %s is over %d bytes; not logged",
                      rec.event_id, MAX_SERVING_FEATURES_BYTES)  # fmt: skip
            continue
        out.user_ids.append(rec.user_id)
        out.values.append(value)
    return out
