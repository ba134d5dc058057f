"""Config persistence, Flink settings rendering, migrations and topic specs."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from streamrec.stack.config import StackConfig
from streamrec.stack.errors import PortInUseError, StackError
from streamrec.stack.migrations import load_migrations
from streamrec.stack.ports import is_free, require_free
from streamrec.stack.services.flink import FlinkService, flatten
from streamrec.stack.topics import job_topic_args, stack_topics


def test_saved_config_round_trips(tmp_path: Path) -> None:
    config = StackConfig(
        data_dir=tmp_path, cache_dir=tmp_path / "c", kafka_port=19092, keyspace="ks"
    )
    config.save()
    assert StackConfig.load_saved(tmp_path) == config
    assert StackConfig.load_saved(tmp_path / "nothing") is None
    assert config.with_overrides(kafka_port=None, mlflow_port=15000).mlflow_port == 15000


def test_for_data_dir_takes_given_ports_then_saved_ones_then_defaults(tmp_path: Path) -> None:
    assert StackConfig.for_data_dir(tmp_path).kafka_port == 9092
    saved = StackConfig(data_dir=tmp_path, cache_dir=tmp_path, kafka_port=19092, cassandra_port=1)
    saved.save()
    config = StackConfig.for_data_dir(tmp_path, cassandra_port=29042, flink_rest_port=None)
    assert (config.kafka_port, config.cassandra_port) == (19092, 29042)  # saved, then given
    assert config.flink_rest_port == 8081  # neither: the default


def test_flatten_turns_nested_yaml_into_flink_keys() -> None:
    assert flatten({"a": {"b": {"c": 1}, "d": [1, 2]}, "e": "x"}) == {
        "a.b.c": 1,
        "a.d": [1, 2],
        "e": "x",
    }


def test_flink_settings_keep_repo_values_and_packaged_jvm_flags(tmp_path: Path) -> None:
    config = StackConfig(data_dir=tmp_path, cache_dir=tmp_path, flink_rest_port=18081)
    settings = FlinkService(config).settings()
    assert settings["state.backend.type"] == "rocksdb"
    assert settings["execution.checkpointing.incremental"] is True
    assert settings["rest.port"] == 18081
    assert "--add-opens=java.base/java.util=ALL-UNNAMED" in settings["env.java.opts.all"]
    assert settings["execution.checkpointing.dir"] == f"file://{tmp_path / 'flink' / 'checkpoints'}"


def test_migrations_are_ordered_and_templated() -> None:
    migrations = load_migrations("my_ks")
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].version == 1
    text = " ".join(s for m in migrations for s in m.statements)
    assert "{keyspace}" not in text and "my_ks.recs_by_user" in text


def test_bad_keyspace_name_is_refused() -> None:
    with pytest.raises(StackError, match="not a valid CQL identifier"):
        load_migrations("drop table; --")


def test_models_and_rules_topics_are_compacted() -> None:
    specs = {s.name: s for s in stack_topics(4)}
    assert specs["events"].partitions == 4
    assert specs["models"].config["cleanup.policy"] == "compact"
    assert specs["rules"].config["cleanup.policy"] == "compact"
    assert int(specs["models"].config["max.message.bytes"]) > 1024 * 1024
    prefixed = {s.name: s for s in stack_topics(2, prefix="t_")}
    assert set(prefixed) == {f"t_{name}" for name in specs}
    assert prefixed["t_models"].config == specs["models"].config


def test_job_topic_args_name_every_topic_the_stack_creates() -> None:
    """The job's flags point at exactly the topics stack_topics(prefix) creates."""
    from streamrec.jobs.recommend import parse_args

    args = job_topic_args(prefix="t_")
    assert set(args[1::2]) == {s.name for s in stack_topics(1, prefix="t_")}
    parsed = parse_args(["--bootstrap", "b:1", *args])
    assert (parsed.events_topic, parsed.dlq_topic, parsed.recommendations_topic) == (
        "t_events", "t_events.dlq", "t_recommendations",
    )  # fmt: skip


def test_port_checks() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not is_free("127.0.0.1", port)
        with pytest.raises(
            PortInUseError, match=f"port {port} \\(thing\\).*--thing-port / THING_PORT"
        ):
            require_free("127.0.0.1", port, what="thing", flag="--thing-port", env_var="THING_PORT")
