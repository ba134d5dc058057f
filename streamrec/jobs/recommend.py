"""The streamrec job: events -> keyed user state + broadcast model/rules -> recommendations.

Submit to a cluster (``streamrec stack up`` starts one)::

    flink run --detached --python streamrec/jobs/recommend.py -- \
        --bootstrap 127.0.0.1:9092 --cassandra 127.0.0.1:9042

Every setting and its default is in ``job_config.settings`` (``--help`` lists the flags); the
parsed ``JobConfig`` is what the graph, the operator and the scoring worker are built from.

Graph (every operator has a stable uid, so savepoints survive code and parallelism
changes; max parallelism is fixed at 128 for the same reason)::

    events (KafkaSource, event-time watermarks)
      -> parse-events  --dead letters-->  events.dlq (Kafka)
      -> key_by(user_id)
      -> recommend (keyed state, broadcast models + rules + trending, batched scoring,
                    Cassandra)
      -> recommendations (Kafka, key = user_id, exactly-once by default)

    events (Kafka, read again by Flink SQL, event-time watermarks on the event's ts)
      -> trending (HOP window per item and scope, Top-N; jobs.trending_sql, all in the JVM)
      -> trending (Kafka, compacted, key = scope), read back on recommend's broadcast side

    events (feedback: impression/click/add/purchase with context.rec_id) + recommendations
      -> interval join on the id (jobs.feedback_sql) -> counts per minute per model version
      -> feedback (Kafka, key = model version), read back for Cassandra and the metrics
    events (view/click/add/purchase) + recommendations
      -> interval join on the user, an engaged item in the first k (jobs.hit_rate_sql)
      -> hit rate per minute per model version -> feedback (Kafka), as above

    recommend -> serving-features (Kafka, key = user_id, exactly-once by default): the
      features each recommendation was scored with (--serving-features-rate); recommend's
      rows name their topic and a JVM flatMap per topic splits them before each sink
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pyflink.common import Configuration, Duration, Row, WatermarkStrategy
from pyflink.common.typeinfo import Types
from pyflink.datastream import DataStream, KeyedStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.kafka import (
    KafkaOffsetResetStrategy,
    KafkaOffsetsInitializer,
    KafkaSource,
)
from pyflink.java_gateway import get_gateway
from pyflink.table import DataTypes, Schema, StreamTableEnvironment, TableDescriptor

from streamrec.contracts.limits import MAX_RECORD_BYTES
from streamrec.job_config import flags as config_flags
from streamrec.job_config.settings import JobConfig, ModelIntake
from streamrec.jobs.feedback_sql import feedback_table
from streamrec.jobs.hit_rate_sql import hit_rate_table
from streamrec.jobs.kafka_records import set_bytes_deserializer
from streamrec.jobs.trending_sql import trending_table
from streamrec.model_package.package_limits import DEFAULT_LIMITS
from streamrec.model_package.signing import (
    load_public_key,
    public_key_base64,
    public_key_from_base64,
)
from streamrec.sinks.cassandra import CassandraSettings
from streamrec.state.user_state import EVENT_TYPE
from streamrec.udfs.model_intake import IntakeSettings
from streamrec.udfs.parse_events import DEAD_LETTERS, KEYED_EVENT_TYPE, ParseEvents
from streamrec.udfs.recommend_function import (
    CONTROL_TYPE,
    OUTPUT_TYPE,
    RECORD_TYPE,
    SERVING_STATE,
    RecommendFunction,
    RecommendSettings,
)

MAX_PARALLELISM = 128
# ISO-8859-1 maps bytes 1:1 to chars, so Python sees the exact bytes (for the DLQ too).
LOSSLESS_CHARSET = "ISO-8859-1"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The flags as argparse gives them (``--events-topic`` -> ``events_topic``), checked
    against the config's ranges: a bad value exits with usage and the reason."""
    return config_flags.parse_namespace(argv, __doc__.splitlines()[0])[0]


def parse_config(argv: Sequence[str] | None = None) -> JobConfig:
    return config_flags.parse(argv, __doc__.splitlines()[0])


def build(env: StreamExecutionEnvironment, config: JobConfig) -> None:
    """Add the job's graph and sinks to ``env`` (``env.execute`` runs it)."""
    topics, event_time = config.topics, config.event_time
    # Raw bytes; a null value (tombstone) is skipped and counted in the source
    # (<source>.deserializer.tombstonesSkipped), never reaching Python.
    events_source = _kafka_source(
        config,
        topics.events,
        f"{config.group_id}-events",
        start=KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST),
    )
    events = env.from_source(
        events_source,
        WatermarkStrategy.for_bounded_out_of_orderness(
            Duration.of_millis(event_time.out_of_orderness_ms)
        ).with_idleness(Duration.of_millis(event_time.idleness_ms)),
        "events",
    ).uid("events-source")

    parsed = (
        events.process(
            ParseEvents(topics.events, event_time.max_event_age_ms), output_type=KEYED_EVENT_TYPE
        )
        .uid("parse-events")
        .name("parse-events")
    )
    control = _control_stream(env, config)
    recommendations = (
        _keyed_by_user(parsed)
        .connect(control.broadcast(SERVING_STATE))
        .process(RecommendFunction(_settings(config)), output_type=OUTPUT_TYPE)
        .uid("recommend")
        .name("recommend")
    )
    dead_letters = parsed.get_side_output(DEAD_LETTERS)
    t_env = StreamTableEnvironment.create(env)
    # Table operators get uids from the plan only when asked; savepoints need them.
    t_env.get_config().set("table.exec.uid.generation", "ALWAYS")
    statements = t_env.create_statement_set()
    # The recommend operator's rows name their topic: recommendations, or serving-features
    # for the features a logged recommendation was scored with; split in the JVM.
    answers = _rows_for(recommendations, topics.recommendations, "recommendation-rows")
    for name, stream, topic, key in (
        ("recommendations_sink", answers, topics.recommendations, "user_id"),
        ("dead_letters_sink", dead_letters, topics.dead_letters, "reason"),
    ):
        t_env.create_temporary_table(name, _kafka_sink(config, topic, key))
        statements.add_insert(name, t_env.from_data_stream(stream))
    statements.attach_as_datastream()
    # Translated after the sinks above: the plan numbers its operators in translation
    # order and their uids carry that number, so the sinks keep the uids (and the Kafka
    # transactions in savepoints) of a job that had no trending query.
    signals = t_env.create_statement_set()
    for name, topic, key, table, writer in (
        ("trending_sink", topics.trending, "scope", trending_table(t_env, config), None),
        ("feedback_sink", topics.feedback, "model_version", feedback_table(t_env, config), None),
        # Last: the feedback counts above keep their operators' uids.
        ("hit_rate_sink", topics.feedback, "model_version", hit_rate_table(t_env, config),
         "hit-rate"),
    ):  # fmt: skip
        t_env.create_temporary_table(name, _kafka_sink(config, topic, key, writer))
        signals.add_insert(name, table)
    signals.attach_as_datastream()
    if config.serving_log.rate > 0:
        # Last: every earlier sink keeps the uid its plan number gives it.
        logged = t_env.create_statement_set()
        t_env.create_temporary_table(
            "serving_features_sink", _kafka_sink(config, topics.serving_features, "user_id")
        )
        logged.add_insert(
            "serving_features_sink",
            t_env.from_data_stream(
                _rows_for(recommendations, topics.serving_features, "serving-features-rows")
            ),
        )
        logged.attach_as_datastream()


def _keyed_by_user(parsed: DataStream) -> KeyedStream:
    """``parsed`` (rows of (user_id, event)) keyed on field 0 in the JVM.

    The same plan PyFlink's ``key_by`` builds, minus its Python operator that computes the
    key of every record: the parser already emitted it.
    """
    j_key_selector = get_gateway().jvm.KeyByKeySelector()
    key_type = Types.ROW([Types.STRING()]).get_java_type_info()
    j_keyed = parsed._j_data_stream.keyBy(j_key_selector, key_type)
    return KeyedStream(j_keyed, EVENT_TYPE, parsed)


def _kafka_source(
    config: JobConfig,
    topic: str,
    group_id: str,
    *,
    start: KafkaOffsetsInitializer,
) -> KafkaSource:
    """A read_committed source of Kafka record values as bytes; tombstones (null
    values) are skipped and counted in the source's ``deserializer.tombstonesSkipped``.

    ``start`` applies to a fresh start only: events resume from the group's committed
    offsets (a restarted demo does not replay everything); the compacted models and rules
    are read from the beginning (the newest model and rules must be seen); trending from
    one window back. On a restore from a checkpoint or savepoint, its offsets win.
    """
    builder = (
        KafkaSource.builder()
        .set_bootstrap_servers(config.bootstrap)
        .set_topics(topic)
        .set_group_id(group_id)
        .set_starting_offsets(start)
    )
    return (
        set_bytes_deserializer(builder)
        .set_property("isolation.level", "read_committed")
        .set_property("partition.discovery.interval.ms", "60000")
        .build()
    )


def _control_stream(env: StreamExecutionEnvironment, config: JobConfig) -> DataStream:
    streams = []
    # The job's own trending query writes the trending topic; a fresh start reads back the
    # lists of the last window only (older ones are outdated, and compaction is lazy).
    since = int(time.time() * 1000) - config.trending.window_ms
    for kind, topic, start in (
        ("model", config.topics.models, KafkaOffsetsInitializer.earliest()),
        ("rules", config.topics.rules, KafkaOffsetsInitializer.earliest()),
        ("trending", config.topics.trending, KafkaOffsetsInitializer.timestamp(since)),
        # The job's own feedback counts, for Cassandra and the per-version metrics.
        ("feedback", config.topics.feedback, KafkaOffsetsInitializer.latest()),
    ):
        # Bytes, as for events: a tombstone (null value) on a compacted control topic is
        # how Kafka deletes a key; it is skipped and counted in the source.
        source = _kafka_source(config, topic, f"{config.group_id}-{kind}", start=start)
        stream = (
            env.from_source(source, WatermarkStrategy.no_watermarks(), f"{kind}-source")
            .uid(f"{kind}-source")
            .map(lambda payload, kind=kind: _control_row(kind, payload), CONTROL_TYPE)
            .uid(f"{kind}-as-control")
            .name(f"{kind}-as-control")
        )
        streams.append(stream)
    return streams[0].union(*streams[1:])


def _control_row(kind: str, payload: bytes | None) -> Row:
    """One control record for the broadcast side; its bytes as ISO-8859-1 text (lossless)."""
    return Row(kind=kind, payload=bytes(payload or b"").decode(LOSSLESS_CHARSET))


def _transaction_prefix(config: JobConfig, topic: str, writer: str | None) -> str:
    """``<job>-<topic>`` as before (a restored job resumes its own transactions), then the
    writer's name for a topic's second sink."""
    return f"{config.job_name}-{topic}" + (f"-{writer}" if writer else "")


def _rows_for(recommendations: DataStream, topic: str, uid: str) -> DataStream:
    """The recommend operator's rows bound for ``topic``, as (user_id, value), split in
    the JVM (``RowsForTopic`` of jvm/streamrec-connectors): no Python per record.

    Why one output with a topic column: a side output of the keyed broadcast operator is
    not wired up by PyFlink 2.3 in thread mode (its tag is never registered on that
    operator; the first record failed the task with "'tuple' object has no attribute
    '_values'"); and routing by Kafka's writable ``topic`` metadata made the planner add a
    cast and a not-null check before the recommendations sink, renumbering its uid.
    """
    j_split = get_gateway().jvm.dev.streamrec.connectors.RowsForTopic(topic)
    j_rows = recommendations._j_data_stream.flatMap(j_split, RECORD_TYPE.get_java_type_info())
    return DataStream(j_rows.uid(uid).name(uid))


def _kafka_sink(
    config: JobConfig, topic: str, key_field: str, writer: str | None = None
) -> TableDescriptor:
    """A Kafka sink keyed by ``key_field``; the other column is the raw record value.

    ``writer`` tells apart two sinks on one topic: their transactional ids must differ,
    or each would fence the other's transactions.

    It goes through the Table API because PyFlink's KafkaSink record serializer cannot
    take the key from one field and the value from another; underneath it is the same
    connector's KafkaSink, with the same transactional exactly-once.
    """
    other = "value"
    descriptor = (
        TableDescriptor.for_connector("kafka")
        .schema(
            Schema.new_builder()
            .column(key_field, DataTypes.STRING())
            .column(other, DataTypes.STRING())
            .build()
        )
        .option("topic", topic)
        .option("properties.bootstrap.servers", config.bootstrap)
        .option("key.format", "raw")
        .option("key.fields", key_field)
        .option("value.format", "raw")
        .option("value.fields-include", "EXCEPT_KEY")
        .option("sink.delivery-guarantee", config.checkpointing.delivery)
        # Sized against the broker's limit (contracts.limits): a record the broker refuses
        # would fail the transaction and restart the job on the same input.
        .option("properties.max.request.size", str(MAX_RECORD_BYTES))
    )
    if config.checkpointing.delivery == "exactly-once":
        descriptor = (
            descriptor.option(
                "sink.transactional-id-prefix", _transaction_prefix(config, topic, writer)
            )
            # Must not exceed the broker's transaction.max.timeout.ms (1 h on our stack).
            .option("properties.transaction.timeout.ms", "900000")
        )
    return descriptor.build()


def _settings(config: JobConfig) -> RecommendSettings:
    address = config.cassandra_address
    cassandra = CassandraSettings((address[0],), address[1], config.keyspace) if address else None
    return RecommendSettings(
        scoring=config.scoring,
        batching=config.batching,
        state=config.state,
        cassandra=cassandra,
        model_intake=_intake_settings(config.models),
        serving_log=config.serving_log,
        topics=config.topics,
    )


def _intake_settings(models: ModelIntake) -> IntakeSettings:
    """Keys are read here, on the submitting client, and travel with the job as base64."""
    keys = [public_key_base64(load_public_key(Path(path))) for path in models.public_keys]
    keys += [public_key_base64(public_key_from_base64(k)) for k in models.public_keys_base64]
    return IntakeSettings(
        public_keys_base64=tuple(keys),
        cache_dir=models.cache_dir,
        max_artifact_bytes=models.max_bytes,
        fetch_timeout_s=models.fetch_timeout_s,
        package_limits=replace(
            DEFAULT_LIMITS, max_decompressed_bytes=models.max_decompressed_bytes
        ),
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    config = parse_config(argv)
    batching, checkpointing = config.batching, config.checkpointing
    flink = Configuration()
    # Thread mode: keyed state ~20x cheaper than process mode, and the timer batching in
    # udfs.timer_rounds needs synchronous timer registration (see that module).
    flink.set_string("python.execution-mode", "thread")
    if checkpointing.state_backend != "cluster":
        flink.set_string("state.backend.type", checkpointing.state_backend)
    if batching.bundle_size is not None:
        flink.set_string("python.fn-execution.bundle.size", str(batching.bundle_size))
    if batching.bundle_time_ms is not None:
        flink.set_string("python.fn-execution.bundle.time", str(batching.bundle_time_ms))
    env = StreamExecutionEnvironment.get_execution_environment(flink)
    env.set_max_parallelism(MAX_PARALLELISM)
    env.enable_checkpointing(checkpointing.interval_ms)
    env.set_buffer_timeout(batching.buffer_timeout_ms)
    build(env, config)
    env.execute(config.job_name)


if __name__ == "__main__":
    main()
