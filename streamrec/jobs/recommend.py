"""The streamrec job: events -> keyed user state + broadcast model/rules -> recommendations.

Submit to a cluster (``streamrec stack up`` starts one)::

    flink run --detached --python streamrec/jobs/recommend.py -- \
        --bootstrap 127.0.0.1:9092 --cassandra 127.0.0.1:9042

Graph (every operator has a stable uid, so savepoints survive code and parallelism
changes; max parallelism is fixed at 128 for the same reason)::

    events (KafkaSource, event-time watermarks)
      -> parse-events  --dead letters-->  events.dlq (Kafka)
      -> key_by(user_id)
      -> recommend (keyed state, broadcast models + rules, batched scoring, Cassandra)
      -> recommendations (Kafka, key = user_id, exactly-once by default)
"""

from __future__ import annotations

import argparse
import logging
import sys
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

from streamrec.contracts.event import MAX_PAST_AGE_MS
from streamrec.contracts.limits import MAX_RECORD_BYTES
from streamrec.jobs.kafka_records import set_bytes_deserializer
from streamrec.model_package.artifact_fetch import (
    DEFAULT_FETCH_TIMEOUT_S,
    DEFAULT_MAX_ARTIFACT_BYTES,
)
from streamrec.model_package.package_limits import DEFAULT_LIMITS
from streamrec.model_package.signing import (
    load_public_key,
    public_key_base64,
    public_key_from_base64,
)
from streamrec.sinks.cassandra import CassandraSettings
from streamrec.state.features import DEFAULT_HALF_LIFE_MS
from streamrec.state.user_state import EVENT_TYPE
from streamrec.udfs.model_intake import IntakeSettings
from streamrec.udfs.parse_events import DEAD_LETTERS, KEYED_EVENT_TYPE, ParseEvents
from streamrec.udfs.recommend_function import (
    CONTROL_TYPE,
    OUTPUT_TYPE,
    SERVING_STATE,
    RecommendFunction,
    RecommendSettings,
)

MAX_PARALLELISM = 128
# ISO-8859-1 maps bytes 1:1 to chars, so Python sees the exact bytes (for the DLQ too).
LOSSLESS_CHARSET = "ISO-8859-1"
DELIVERY_MODES = ("exactly-once", "at-least-once")  # the Kafka table sink's own names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    p.add_argument("--cassandra", default=None, help="host:port; omit to skip Cassandra")
    p.add_argument("--keyspace", default="streamrec")
    p.add_argument("--events-topic", default="events")
    p.add_argument("--dlq-topic", default="events.dlq")
    p.add_argument("--models-topic", default="models")
    p.add_argument("--rules-topic", default="rules")
    p.add_argument("--recommendations-topic", default="recommendations")
    p.add_argument("--group-id", default="streamrec-job")
    p.add_argument("--job-name", default="streamrec")
    p.add_argument(
        "--delivery",
        choices=DELIVERY_MODES,
        default="exactly-once",
        help="exactly-once: outputs visible to read_committed readers at each checkpoint; "
        "at-least-once: visible at once, duplicates possible after a failure (dedupe on "
        "event_id)",
    )
    p.add_argument("--checkpoint-interval-ms", type=int, default=10_000)
    p.add_argument(
        "--buffer-timeout-ms",
        type=int,
        default=10,
        help="most time a record waits in a network buffer between operators (Flink's "
        "default is 100; measured in streamrec.bench)",
    )
    p.add_argument(
        "--state-backend",
        choices=("cluster", "rocksdb", "hashmap"),
        default="cluster",
        help="keyed state backend; cluster: what flink-conf says (rocksdb)",
    )
    p.add_argument("--bundle-size", type=int, default=None, help="python.fn-execution.bundle.size")
    p.add_argument(
        "--bundle-time-ms", type=int, default=None, help="python.fn-execution.bundle.time"
    )
    p.add_argument("--k", type=int, default=20, help="items per recommendation")
    p.add_argument("--num-candidates", type=int, default=200, help="retrieved per event")
    p.add_argument("--retrieval-backend", choices=("auto", "brute", "hnsw"), default="auto")
    p.add_argument("--max-batch", type=int, default=256, help="most events per model call")
    p.add_argument("--max-delay-ms", type=int, default=20, help="most added batching delay")
    p.add_argument("--state-ttl-days", type=int, default=30)
    p.add_argument("--half-life-ms", type=int, default=DEFAULT_HALF_LIFE_MS)
    p.add_argument(
        "--max-event-age-days",
        type=float,
        default=MAX_PAST_AGE_MS / 86_400_000,
        help="older events go to the DLQ as past_ts",
    )
    p.add_argument(
        "--model-public-key",
        action="append",
        default=[],
        metavar="PATH",
        help="publisher public key (PEM or base64 file) that model references must be signed "
        "with; repeat to trust several (key rotation). Without one, every model is rejected",
    )
    p.add_argument(
        "--model-public-key-base64",
        action="append",
        default=[],
        metavar="KEY",
        help="the same as --model-public-key, given inline as base64 of the raw 32-byte key",
    )
    p.add_argument(
        "--model-cache-dir",
        default=None,
        help="TaskManager directory for fetched packages, by sha256 (default: "
        "<system temp dir>/streamrec-model-cache)",
    )
    p.add_argument(
        "--max-model-bytes",
        type=int,
        default=DEFAULT_MAX_ARTIFACT_BYTES,
        help="largest package the job fetches; a larger one is rejected",
    )
    p.add_argument(
        "--max-model-decompressed-bytes",
        type=int,
        default=DEFAULT_LIMITS.max_decompressed_bytes,
        help="most a package may expand to when loaded (package_limits has the other caps)",
    )
    p.add_argument(
        "--model-fetch-timeout-s",
        type=float,
        default=DEFAULT_FETCH_TIMEOUT_S,
        help="most time to fetch one package from the artifact store",
    )
    p.add_argument(
        "--scoring-python",
        default=None,
        help="Python interpreter that runs each scoring worker on the TaskManagers (default: "
        "the TaskManager's own Python)",
    )
    p.add_argument(
        "--scoring-tf-threads",
        type=int,
        default=1,
        help="TensorFlow threads per scoring worker (0: one per core). One leaves the other "
        "core to the TaskManager, Kafka and Cassandra: 1,038 events/s drained vs 856 with one "
        "per core (docs/architecture.md, 'The hot path')",
    )
    p.add_argument("--out-of-orderness-ms", type=int, default=5_000)
    p.add_argument("--idleness-ms", type=int, default=30_000)
    return p.parse_args(argv)


def build(env: StreamExecutionEnvironment, args: argparse.Namespace) -> None:
    """Add the job's graph and sinks to ``env`` (``env.execute`` runs it)."""
    # Raw bytes; a null value (tombstone) is skipped and counted in the source
    # (<source>.deserializer.tombstonesSkipped), never reaching Python.
    events_source = _kafka_source(
        args, args.events_topic, f"{args.group_id}-events", committed=True
    )
    events = env.from_source(
        events_source,
        WatermarkStrategy.for_bounded_out_of_orderness(
            Duration.of_millis(args.out_of_orderness_ms)
        ).with_idleness(Duration.of_millis(args.idleness_ms)),
        "events",
    ).uid("events-source")

    max_age_ms = int(args.max_event_age_days * 86_400_000)
    parsed = (
        events.process(ParseEvents(args.events_topic, max_age_ms), output_type=KEYED_EVENT_TYPE)
        .uid("parse-events")
        .name("parse-events")
    )
    control = _control_stream(env, args)
    recommendations = (
        _keyed_by_user(parsed)
        .connect(control.broadcast(SERVING_STATE))
        .process(RecommendFunction(_settings(args)), output_type=OUTPUT_TYPE)
        .uid("recommend")
        .name("recommend")
    )
    dead_letters = parsed.get_side_output(DEAD_LETTERS)
    t_env = StreamTableEnvironment.create(env)
    # Table operators get uids from the plan only when asked; savepoints need them.
    t_env.get_config().set("table.exec.uid.generation", "ALWAYS")
    statements = t_env.create_statement_set()
    for name, stream, topic, key in (
        ("recommendations_sink", recommendations, args.recommendations_topic, "user_id"),
        ("dead_letters_sink", dead_letters, args.dlq_topic, "reason"),
    ):
        t_env.create_temporary_table(name, _kafka_sink(args, topic, key))
        statements.add_insert(name, t_env.from_data_stream(stream))
    statements.attach_as_datastream()


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
    args: argparse.Namespace,
    topic: str,
    group_id: str,
    *,
    committed: bool,
) -> KafkaSource:
    """A read_committed source of Kafka record values as bytes; tombstones (null
    values) are skipped and counted in the source's ``deserializer.tombstonesSkipped``.

    ``committed``: on a fresh start resume from the group's committed offsets (a
    restarted demo does not replay everything); otherwise read from the beginning
    (compacted control topics: the newest model and rules must be seen). On a restore
    from a checkpoint or savepoint, the offsets in it win either way.
    """
    start = (
        KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST)
        if committed
        else KafkaOffsetsInitializer.earliest()
    )
    builder = (
        KafkaSource.builder()
        .set_bootstrap_servers(args.bootstrap)
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


def _control_stream(env: StreamExecutionEnvironment, args: argparse.Namespace) -> DataStream:
    streams = []
    for kind, topic in (("model", args.models_topic), ("rules", args.rules_topic)):
        # Bytes, as for events: a tombstone (null value) on a compacted control topic is
        # how Kafka deletes a key; it is skipped and counted in the source.
        source = _kafka_source(args, topic, f"{args.group_id}-{kind}", committed=False)
        stream = (
            env.from_source(source, WatermarkStrategy.no_watermarks(), f"{kind}-source")
            .uid(f"{kind}-source")
            .map(lambda payload, kind=kind: _control_row(kind, payload), CONTROL_TYPE)
            .uid(f"{kind}-as-control")
            .name(f"{kind}-as-control")
        )
        streams.append(stream)
    return streams[0].union(streams[1])


def _control_row(kind: str, payload: bytes | None) -> Row:
    """One control record for the broadcast side; its bytes as ISO-8859-1 text (lossless)."""
    return Row(kind=kind, payload=bytes(payload or b"").decode(LOSSLESS_CHARSET))


def _kafka_sink(args: argparse.Namespace, topic: str, key_field: str) -> TableDescriptor:
    """A Kafka sink keyed by ``key_field``; the other column is the raw record value.

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
        .option("properties.bootstrap.servers", args.bootstrap)
        .option("key.format", "raw")
        .option("key.fields", key_field)
        .option("value.format", "raw")
        .option("value.fields-include", "EXCEPT_KEY")
        .option("sink.delivery-guarantee", args.delivery)
        # Sized against the broker's limit (contracts.limits): a record the broker refuses
        # would fail the transaction and restart the job on the same input.
        .option("properties.max.request.size", str(MAX_RECORD_BYTES))
    )
    if args.delivery == "exactly-once":
        descriptor = (
            descriptor.option("sink.transactional-id-prefix", f"{args.job_name}-{topic}")
            # Must not exceed the broker's transaction.max.timeout.ms (1 h on our stack).
            .option("properties.transaction.timeout.ms", "900000")
        )
    return descriptor.build()


def _settings(args: argparse.Namespace) -> RecommendSettings:
    cassandra = None
    if args.cassandra:
        host, _, port = args.cassandra.rpartition(":")
        cassandra = CassandraSettings((host,), int(port), args.keyspace)
    return RecommendSettings(
        k=args.k,
        num_candidates=args.num_candidates,
        retrieval_backend=args.retrieval_backend,
        max_batch=args.max_batch,
        max_delay_ms=args.max_delay_ms,
        state_ttl_days=args.state_ttl_days,
        half_life_ms=args.half_life_ms,
        cassandra=cassandra,
        model_intake=_intake_settings(args),
        worker_python=args.scoring_python,
        worker_tf_threads=args.scoring_tf_threads,
    )


def _intake_settings(args: argparse.Namespace) -> IntakeSettings:
    """Keys are read here, on the submitting client, and travel with the job as base64."""
    keys = [public_key_base64(load_public_key(Path(path))) for path in args.model_public_key]
    keys += [public_key_base64(public_key_from_base64(k)) for k in args.model_public_key_base64]
    return IntakeSettings(
        public_keys_base64=tuple(keys),
        cache_dir=args.model_cache_dir,
        max_artifact_bytes=args.max_model_bytes,
        fetch_timeout_s=args.model_fetch_timeout_s,
        package_limits=replace(
            DEFAULT_LIMITS, max_decompressed_bytes=args.max_model_decompressed_bytes
        ),
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    args = parse_args(argv)
    config = Configuration()
    # Thread mode: keyed state ~20x cheaper than process mode, and the timer batching in
    # udfs.timer_rounds needs synchronous timer registration (see that module).
    config.set_string("python.execution-mode", "thread")
    if args.state_backend != "cluster":
        config.set_string("state.backend.type", args.state_backend)
    if args.bundle_size is not None:
        config.set_string("python.fn-execution.bundle.size", str(args.bundle_size))
    if args.bundle_time_ms is not None:
        config.set_string("python.fn-execution.bundle.time", str(args.bundle_time_ms))
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_max_parallelism(MAX_PARALLELISM)
    env.enable_checkpointing(args.checkpoint_interval_ms)
    env.set_buffer_timeout(args.buffer_timeout_ms)
    build(env, args)
    env.execute(args.job_name)


if __name__ == "__main__":
    main()
