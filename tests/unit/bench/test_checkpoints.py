from typing import Any

from streamrec.bench.checkpoints import (
    CheckpointStats,
    first_serving,
    matches_operator,
    new_completed,
    parse_checkpoint,
    parse_subtask,
    spread,
    summarize,
)

RECOMMEND = "recommend -> (Sink: Writer, Sink: Committer)"
SOURCE = "Source: events -> parse-events"


def _details(checkpoint_id: int, recommend_sizes: tuple[int, int], source_size: int) -> Any:
    """A ``/checkpoints/details/<id>`` body (Flink 2.x field names)."""
    checkpointed, state = recommend_sizes
    return {
        "id": checkpoint_id,
        "status": "COMPLETED",
        "trigger_timestamp": 1_000 * checkpoint_id,
        "checkpointed_size": checkpointed + source_size,
        "state_size": state + source_size,
        "end_to_end_duration": 100 * checkpoint_id,
        "tasks": {
            "v-rec": {
                "checkpointed_size": checkpointed,
                "state_size": state,
                "end_to_end_duration": 90 * checkpoint_id,
            },
            "v-src": {
                "checkpointed_size": source_size,
                "state_size": source_size,
                "end_to_end_duration": 10,
            },
        },
    }


def _subtask(index: int, state: int, sync: int = 1, async_: int = 50) -> dict[str, Any]:
    return {
        "index": index,
        "status": "completed",
        "state_size": state,
        "checkpointed_size": state,
        "end_to_end_duration": sync + async_,
        "checkpoint": {"sync": sync, "async": async_},
        "alignment": {"buffered": 0, "processed": 10, "persisted": 0, "duration": 7},
        "start_delay": 2,
    }


NAMES = {"v-rec": RECOMMEND, "v-src": SOURCE}


def _checkpoint(checkpoint_id: int, recommend: tuple[int, int]) -> CheckpointStats:
    half = recommend[1] // 2
    subtasks = {
        "v-rec": [_subtask(0, half, async_=checkpoint_id), _subtask(1, half)],
        "v-src": [_subtask(0, 300)],
    }
    return parse_checkpoint(_details(checkpoint_id, recommend, 300), NAMES, subtasks)


def test_spread_gives_median_max_min_and_keeps_integers() -> None:
    assert spread([3, 1, 2]) == {"median": 2, "max": 3, "min": 1}
    assert spread([1, 2]) == {"median": 1.5, "max": 2, "min": 1}
    assert isinstance(spread([10, 20, 30])["median"], int)
    assert spread([]) == {"median": None, "max": None, "min": None}


def test_parse_subtask_reads_sizes_and_sync_async_times() -> None:
    parsed = parse_subtask(_subtask(1, 4096, sync=3, async_=70))
    assert (parsed.index, parsed.state_size, parsed.sync_ms, parsed.async_ms) == (1, 4096, 3, 70)
    assert (parsed.alignment_ms, parsed.start_delay_ms) == (7, 2)
    # A subtask that has not reported leaves zeros, not an error.
    empty = parse_subtask({"index": 2, "status": "pending_or_failed"})
    assert (empty.state_size, empty.checkpointed_size, empty.async_ms) == (0, 0, 0)
    assert (empty.alignment_ms, empty.start_delay_ms) == (0, 0)


def test_parse_checkpoint_names_vertices_and_keeps_their_subtasks() -> None:
    stats = _checkpoint(4, (1_000, 10_000))
    assert (stats.id, stats.checkpointed_size, stats.state_size) == (4, 1_300, 10_300)
    assert [v.name for v in stats.vertices] == sorted([RECOMMEND, SOURCE])
    recommend = next(v for v in stats.vertices if v.name == RECOMMEND)
    assert [s.state_size for s in recommend.subtasks] == [5_000, 5_000]
    unknown = parse_checkpoint(_details(1, (1, 1), 1), {}, {})
    assert {v.name for v in unknown.vertices} == {"v-rec", "v-src"}


def test_new_completed_skips_savepoints_failures_earlier_and_seen_ones() -> None:
    history = [
        {"id": 7, "status": "COMPLETED", "trigger_timestamp": 7_000},
        {"id": 6, "status": "FAILED", "trigger_timestamp": 6_000},
        {"id": 5, "status": "COMPLETED", "trigger_timestamp": 5_000, "is_savepoint": True},
        {"id": 4, "status": "COMPLETED", "trigger_timestamp": 4_000},
        {"id": 3, "status": "COMPLETED", "trigger_timestamp": 3_000},
        {"id": 8, "status": "IN_PROGRESS", "trigger_timestamp": 8_000},
    ]
    assert new_completed(history, triggered_after_ms=3_500, seen=set()) == [4, 7]
    assert new_completed(history, triggered_after_ms=3_500, seen={4}) == [7]
    assert new_completed(history, triggered_after_ms=0, seen=set()) == [3, 4, 7]


def test_matches_operator_finds_it_inside_a_chained_vertex() -> None:
    assert matches_operator(RECOMMEND, "recommend")
    assert matches_operator("recommend", "recommend")
    assert not matches_operator(SOURCE, "recommend")
    assert not matches_operator("recommender-x -> Sink", "recommend")


def test_summarize_totals_per_operator_and_per_subtask() -> None:
    taken = [_checkpoint(1, (1_000, 10_000)), _checkpoint(2, (3_000, 12_000))]
    taken.append(_checkpoint(3, (2_000, 14_000)))
    summary = summarize(taken, operator="recommend")
    assert summary["count"] == 3
    assert summary["checkpoint_ids"] == [1, 2, 3]
    assert summary["checkpointed_size_bytes"] == {"median": 2_300, "max": 3_300, "min": 1_300}
    assert summary["state_size_bytes"] == {"median": 12_300, "max": 14_300, "min": 10_300}
    assert summary["end_to_end_duration_ms"] == {"median": 200, "max": 300, "min": 100}
    recommend = summary["operators"][RECOMMEND]
    assert recommend["state_size_bytes"] == {"median": 12_000, "max": 14_000, "min": 10_000}
    # Six subtask entries (two per checkpoint), each half of its checkpoint's state.
    assert recommend["subtask_state_size_bytes"] == {"median": 6_000, "max": 7_000, "min": 5_000}
    assert recommend["subtask_async_ms"]["max"] == 50
    assert recommend["subtask_alignment_ms"] == {"median": 7, "max": 7, "min": 7}
    assert summary["operator"]["vertex"] == RECOMMEND
    assert summary["operator"]["state_size_bytes"] == recommend["state_size_bytes"]
    assert summary["operators"][SOURCE]["state_size_bytes"]["max"] == 300
    assert summary["checkpoints"][1]["vertices"][RECOMMEND]["subtask_state_sizes"] == [
        6_000,
        6_000,
    ]


def test_summarize_without_checkpoints_or_a_matching_operator() -> None:
    summary = summarize([], operator="recommend")
    assert summary["count"] == 0
    assert summary["state_size_bytes"]["median"] is None
    assert summary["operator"] == {"name": "recommend", "vertex": None}


def test_first_serving_is_the_first_recommendation_of_the_version() -> None:
    records = [
        {"model_version": "10000", "emitted_ts": 900, "event_id": "before-the-publish"},
        {"model_version": "fallback:popularity", "emitted_ts": 1_100, "event_id": "a"},
        {"model_version": "10000", "emitted_ts": 1_250, "event_id": "b"},
        {"model_version": "10000", "emitted_ts": 1_300, "event_id": "c"},
    ]
    found = first_serving(records, "10000", published_at_ms=1_000)
    assert found is not None
    assert (found["event_id"], found["publish_to_serving_ms"]) == ("b", 250)
    assert first_serving(records, "99", published_at_ms=1_000) is None
