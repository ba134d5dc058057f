"""Keyed-state schemas of the scoring operator, declared with explicit Flink types.

Rows, maps and lists of basic types (never pickled Python objects), so a savepoint can be
read by a newer job version and the state can evolve: Flink's row serializer knows
every field. ``UserFeatures`` (state.features) is the logic; this module is its storage.
"""

from __future__ import annotations

from pyflink.common import Row
from pyflink.common.time import Time
from pyflink.common.typeinfo import Types
from pyflink.datastream.state import (
    ListStateDescriptor,
    StateTtlConfig,
    ValueStateDescriptor,
)

from streamrec.contracts.event import Event
from streamrec.state.features import UserFeatures

FEATURE_FIELDS = ["recent_items", "category_affinity", "event_counts", "last_seen_ts"]
FEATURES_TYPE = Types.ROW_NAMED(
    FEATURE_FIELDS,
    [
        Types.LIST(Types.STRING()),
        Types.MAP(Types.STRING(), Types.DOUBLE()),
        Types.MAP(Types.STRING(), Types.LONG()),
        Types.LONG(),
    ],
)

# What travels from the parser to the keyed operator (context is not used by scoring).
EVENT_FIELDS = ["event_id", "user_id", "item_id", "type", "ts"]
EVENT_TYPE = Types.ROW_NAMED(
    EVENT_FIELDS,
    [Types.STRING(), Types.STRING(), Types.STRING(), Types.STRING(), Types.LONG()],
)

# An event waiting for its batch: flat, so adding it costs one small row conversion.
# It is folded into the features when its timer fires (udfs.recommend_function).
PENDING_FIELDS = ["event_id", "item_id", "type", "ts"]
PENDING_TYPE = Types.ROW_NAMED(
    PENDING_FIELDS, [Types.STRING(), Types.STRING(), Types.STRING(), Types.LONG()]
)
# Until the scoring worker (docs/architecture.md, "The hot path") each pending event kept a
# copy of the features right after it: three nested-row conversions per event, the
# measured cost of that design. A savepoint of that job may hold such entries; a restored
# timer drains them (legacy_pending_*), so the upgrade loses none.
LEGACY_PENDING_FIELDS = ["event_id", "item_id", "type", "ts", "features"]
LEGACY_PENDING_TYPE = Types.ROW_NAMED(
    LEGACY_PENDING_FIELDS,
    [Types.STRING(), Types.STRING(), Types.STRING(), Types.LONG(), FEATURES_TYPE],
)

# A user's engaged-item history (UserFeatures.engaged_items/engaged_counts): a state of
# its own, not two more fields of FEATURES_TYPE, because Flink's row serializer treats a
# row of another arity as incompatible and savepoints of the earlier job would stop
# restoring. A user restored from such a savepoint starts with an empty history.
ENGAGED_FIELDS = ["items", "counts"]
ENGAGED_TYPE = Types.ROW_NAMED(
    ENGAGED_FIELDS, [Types.LIST(Types.STRING()), Types.LIST(Types.LONG())]
)

FEATURES_STATE = "user-features"
ENGAGED_STATE = "user-engaged-items"
PENDING_STATE = "pending-events-v2"
LEGACY_PENDING_STATE = "pending-events"


def features_descriptor(ttl_days: int) -> ValueStateDescriptor:
    """A user's online features; forgotten ``ttl_days`` after the user's last event."""
    return _with_ttl(ValueStateDescriptor(FEATURES_STATE, FEATURES_TYPE), ttl_days)


def engaged_descriptor(ttl_days: int) -> ValueStateDescriptor:
    """A user's engaged-item history; written with the features, so it expires with them."""
    return _with_ttl(ValueStateDescriptor(ENGAGED_STATE, ENGAGED_TYPE), ttl_days)


def _with_ttl(descriptor: ValueStateDescriptor, ttl_days: int) -> ValueStateDescriptor:
    if ttl_days > 0:
        descriptor.enable_time_to_live(
            StateTtlConfig.new_builder(Time.days(ttl_days))
            .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
            .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
            .build()
        )
    return descriptor


def pending_descriptor() -> ListStateDescriptor:
    """Events waiting for their timer: not yet folded into the features, not yet scored."""
    return ListStateDescriptor(PENDING_STATE, PENDING_TYPE)


def legacy_pending_descriptor() -> ListStateDescriptor:
    """Pending events as the job stored them before (already folded into the features)."""
    return ListStateDescriptor(LEGACY_PENDING_STATE, LEGACY_PENDING_TYPE)


def features_to_row(features: UserFeatures) -> Row:
    return Row(
        recent_items=list(features.recent_items),
        category_affinity=dict(features.category_affinity),
        event_counts=dict(features.event_counts),
        last_seen_ts=features.last_seen_ts,
    )


def features_from_row(row: Row | None, engaged: Row | None = None) -> UserFeatures:
    """UserFeatures from the FEATURES_TYPE row and, if stored, the ENGAGED_TYPE row."""
    items, counts = _engaged_lists(engaged)
    if row is None:
        return UserFeatures(engaged_items=items, engaged_counts=counts)
    return UserFeatures(
        recent_items=tuple(row[0] or ()),
        category_affinity=dict(row[1] or {}),
        event_counts=dict(row[2] or {}),
        last_seen_ts=int(row[3] or 0),
        engaged_items=items,
        engaged_counts=counts,
    )


def engaged_to_row(features: UserFeatures) -> Row:
    return Row(items=list(features.engaged_items), counts=list(features.engaged_counts))


def _engaged_lists(row: Row | None) -> tuple[tuple[str, ...], tuple[int, ...]]:
    if row is None:
        return (), ()
    return tuple(row[0] or ()), tuple(int(c) for c in row[1] or ())


def event_to_row(event: Event) -> Row:
    return Row(
        event_id=event.event_id,
        user_id=event.user_id,
        item_id=event.item_id,
        type=event.type,
        ts=event.ts,
    )


def event_from_row(row: Row) -> Event:
    return Event(row[0], row[1], row[2], row[3], int(row[4]))


def pending_from_event_row(row: Row) -> Row:
    """The pending entry of an EVENT_TYPE row (the user id is the state's key)."""
    return Row(row[0], row[2], row[3], row[4])


def pending_from_row(user_id: str, row: Row) -> Event:
    return Event(row[0], user_id, row[1], row[2], int(row[3]))


def legacy_pending_from_row(user_id: str, row: Row) -> tuple[Event, UserFeatures]:
    return Event(row[0], user_id, row[1], row[2], int(row[3])), features_from_row(row[4])
