"""job_config.settings: one frozen configuration, its defaults, its checks, and no heavy imports."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from streamrec.job_config.settings import (
    Batching,
    Checkpointing,
    EventTime,
    JobConfig,
    JobConfigError,
    ModelIntake,
    Scoring,
    Topics,
    UserState,
)


def test_frozen_all_the_way_down() -> None:
    config = JobConfig(bootstrap="b:1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.bootstrap = "other:1"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.scoring.k = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.topics.events = "x"  # type: ignore[misc]


def test_bootstrap_is_the_one_required_value() -> None:
    with pytest.raises(TypeError):
        JobConfig()  # type: ignore[call-arg]
    with pytest.raises(JobConfigError, match="--bootstrap is required"):
        JobConfig(bootstrap="")


def test_group_defaults_read_as_class_attributes() -> None:
    """Readers of one default (CLI options, the scoring worker) use ``Group.field``."""
    assert Scoring.k == Scoring().k
    assert Batching.max_batch == Batching().max_batch
    assert Topics.events == Topics().events


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Scoring(k=0), r"--k must be at least 1, got 0"),
        (lambda: Scoring(num_candidates=-3), r"--num-candidates must be at least 1, got -3"),
        (lambda: Scoring(retrieval_backend="faiss"), r"--retrieval-backend must be one of auto"),
        (lambda: Scoring(tf_threads=-1), r"--scoring-tf-threads must be 0 \(one per core\)"),
        (lambda: Batching(max_batch=0), r"--max-batch must be at least 1, got 0"),
        (lambda: Batching(max_delay_ms=0), r"--max-delay-ms must be at least 1, got 0"),
        (lambda: Batching(buffer_timeout_ms=-2), r"--buffer-timeout-ms must be -1"),
        (lambda: Batching(bundle_size=0), r"--bundle-size must be at least 1"),
        (lambda: Checkpointing(delivery="at-most-once"), r"--delivery must be one of exactly"),
        (lambda: Checkpointing(state_backend="memory"), r"--state-backend must be one of"),
        (lambda: Checkpointing(interval_ms=0), r"--checkpoint-interval-ms must be at least 1"),
        (lambda: UserState(ttl_days=0), r"--state-ttl-days must be at least 1"),
        (lambda: EventTime(max_event_age_days=0.0), r"--max-event-age-days must be positive"),
        (lambda: EventTime(idleness_ms=0), r"--idleness-ms must be at least 1"),
        (lambda: ModelIntake(fetch_timeout_s=0.0), r"--model-fetch-timeout-s must be positive"),
        (lambda: JobConfig(bootstrap="b:1", cassandra="nohost"), r"--cassandra must be host:port"),
    ],
)
def test_out_of_range_values_are_refused_naming_the_flag(build, message: str) -> None:
    with pytest.raises(JobConfigError, match=message):
        build()


def test_edge_values_that_mean_something_are_kept() -> None:
    assert Scoring(tf_threads=0).tf_threads == 0  # one per core
    assert Batching(buffer_timeout_ms=-1).buffer_timeout_ms == -1  # flush full buffers only
    assert JobConfig(bootstrap="b:1", cassandra="[::1]:9042").cassandra_address == ("[::1]", 9042)
    assert JobConfig(bootstrap="b:1").cassandra_address is None


def test_prefixed_topics_keep_every_name_under_the_prefix() -> None:
    prefixed = Topics().prefixed("t_")
    assert prefixed.names() == tuple(f"t_{name}" for name in Topics().names())
    assert prefixed.dead_letters == "t_events.dlq"


def test_importable_without_pyflink_or_tensorflow() -> None:
    """The CLI, the benchmark and the scoring worker import it; none may pay for PyFlink."""
    code = (
        "import sys, streamrec.job_config.settings, streamrec.job_config.flags\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'pyflink', 'tensorflow', 'keras', 'numpy', 'cassandra', 'confluent_kafka'})\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
