"""job_config.flags: the job's parser and the submitters' renderer agree with the config."""

from __future__ import annotations

import pytest

from streamrec.job_config import flags as config_flags
from streamrec.job_config.settings import (
    Batching,
    Checkpointing,
    EventTime,
    Feedback,
    JobConfig,
    ModelIntake,
    Scoring,
    ServingLog,
    Topics,
    Trending,
    UserState,
)

# The job's defaults as its parser gave them before the config existed: moving them into
# job_config.settings must not change one. Change a value here only together with the default.
DEFAULTS_BEFORE = {
    "cassandra": None,
    "keyspace": "streamrec",
    "events_topic": "events",
    "dlq_topic": "events.dlq",
    "models_topic": "models",
    "rules_topic": "rules",
    "recommendations_topic": "recommendations",
    "group_id": "streamrec-job",
    "job_name": "streamrec",
    "delivery": "exactly-once",
    "checkpoint_interval_ms": 10_000,
    "buffer_timeout_ms": 10,
    "state_backend": "cluster",
    "bundle_size": None,
    "bundle_time_ms": None,
    "k": 20,
    "num_candidates": 200,
    "retrieval_backend": "auto",
    "max_batch": 256,
    "max_delay_ms": 20,
    "state_ttl_days": 30,
    "half_life_ms": 7 * 24 * 3600 * 1000,
    "max_event_age_days": 365.0,
    "model_public_key": [],
    "model_public_key_base64": [],
    "model_cache_dir": None,
    "max_model_bytes": 128 * 1024 * 1024,
    "max_model_decompressed_bytes": 1024 * 1024 * 1024,
    "model_fetch_timeout_s": 60.0,
    "scoring_python": None,
    "scoring_tf_threads": 1,
    "out_of_orderness_ms": 5_000,
    "idleness_ms": 30_000,
    # Added with trending and cold start (issue 15):
    "trending_topic": "trending",
    "cold_start_events": 1,
    "trending_candidates": 20,
    "trending_slots": 2,
    "trending_window_ms": 300_000,
    "trending_slide_ms": 60_000,
    "trending_lateness_ms": 10_000,
    "trending_weights": "view=1,click=2,add=4,purchase=8",
    "trending_top_n": 50,
    "feedback_topic": "feedback",
    "feedback_horizon_ms": 300_000,
    "feedback_window_ms": 60_000,
    "feedback_lateness_ms": 10_000,
    "feedback_hit_k": 10,
    # Added with logged serving features (issue 15):
    "serving_features_topic": "serving-features",
    "serving_features_rate": 1.0,
}

EVERY_FIELD_CHANGED = JobConfig(
    bootstrap="kafka:9092",
    cassandra="cassandra:9042",
    keyspace="ks",
    job_name="j",
    group_id="g",
    topics=Topics().prefixed("p."),
    scoring=Scoring(
        k=7,
        num_candidates=50,
        retrieval_backend="hnsw",
        python="/py",
        tf_threads=0,
        cold_start_events=0,
    ),
    batching=Batching(
        max_batch=64, max_delay_ms=5, buffer_timeout_ms=-1, bundle_size=10, bundle_time_ms=5
    ),
    checkpointing=Checkpointing(
        interval_ms=1_000, delivery="at-least-once", state_backend="hashmap"
    ),
    state=UserState(ttl_days=2, half_life_ms=1_000),
    event_time=EventTime(max_event_age_days=3650.5, out_of_orderness_ms=0, idleness_ms=1),
    trending=Trending(
        window_ms=600_000, slide_ms=120_000, lateness_ms=0, weights="purchase=1.5", top_n=5
    ),
    feedback=Feedback(horizon_ms=10_000, window_ms=5_000, lateness_ms=0),
    serving_log=ServingLog(rate=0.25),
    models=ModelIntake(
        public_keys=("/a.pem", "/b.pem"),
        public_keys_base64=("QUJD",),
        cache_dir="/cache",
        max_bytes=1,
        max_decompressed_bytes=2,
        fetch_timeout_s=0.25,
    ),
)


def test_parser_defaults_are_the_configs_and_unchanged() -> None:
    namespace, config = config_flags.parse_namespace(["--bootstrap", "b:1"])
    assert config == JobConfig(bootstrap="b:1")
    assert {k: v for k, v in vars(namespace).items() if k != "bootstrap"} == DEFAULTS_BEFORE


def test_every_field_has_its_own_flag() -> None:
    names = [flag.name for flag in config_flags.flags()]
    assert len(names) == len(set(names)) == len(DEFAULTS_BEFORE) + 1  # + --bootstrap


@pytest.mark.parametrize(
    "config", [JobConfig(bootstrap="b:1"), EVERY_FIELD_CHANGED], ids=["defaults", "changed"]
)
def test_round_trip_config_to_args_to_parser(config: JobConfig) -> None:
    assert config_flags.parse(config_flags.to_args(config)) == config


def test_changed_only_renders_what_differs_and_still_round_trips() -> None:
    config = JobConfig(bootstrap="b:1", scoring=Scoring(k=10))
    args = config_flags.to_args(config, changed_only=True)
    assert args == ["--bootstrap", "b:1", "--k", "10"]
    assert config_flags.parse(args) == config
    assert config_flags.parse(config_flags.to_args(EVERY_FIELD_CHANGED, changed_only=True)) == (
        EVERY_FIELD_CHANGED
    )


def test_a_group_renders_its_own_flags() -> None:
    assert config_flags.to_args(Batching(max_batch=64), changed_only=True) == ["--max-batch", "64"]
    assert config_flags.to_args(Topics())[:2] == ["--events-topic", "events"]
    with pytest.raises(TypeError, match="expected JobConfig"):
        config_flags.to_args({"k": 1})


def test_repeated_flags_collect_into_a_tuple() -> None:
    config = config_flags.parse(
        ["--bootstrap", "b:1", "--model-public-key", "/a", "--model-public-key", "/b"]
    )
    assert config.models.public_keys == ("/a", "/b")


def test_a_bad_value_exits_with_usage_and_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        config_flags.parse(["--bootstrap", "b:1", "--max-delay-ms", "0"])
    assert exited.value.code == 2
    assert "--max-delay-ms must be at least 1, got 0" in capsys.readouterr().err.splitlines()[-1]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--trending-weights", "view=1,like=3"], "not <type>=<weight>"),
        (["--trending-weights", "view=0"], "positive weight"),
        (["--trending-weights", "view=-1"], "from 0 to 1e6"),
        (["--trending-slide-ms", "1500"], "whole seconds"),
        (["--trending-window-ms", "90000"], "multiple of --trending-slide-ms"),
        (["--trending-top-n", "0"], "from 1 to 1000"),
        (["--cold-start-events", "-1"], "0 or more"),
    ],
)
def test_bad_trending_settings_name_the_flag(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        config_flags.parse(["--bootstrap", "b:1", *flags])
    assert message in capsys.readouterr().err
