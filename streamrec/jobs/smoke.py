"""Smoke job: events -> placeholder recommendations, through KafkaSource and KafkaSink.

It proves the cluster, the Kafka connector and exactly-once Kafka output work
end to end; the real scoring job replaces the map step. Submit with::

    flink run --python streamrec/jobs/smoke.py --bootstrap 127.0.0.1:9092
"""

from __future__ import annotations

import argparse
import json
import time

from pyflink.common import WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.common.typeinfo import Types
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.connectors.base import DeliveryGuarantee
from pyflink.datastream.connectors.kafka import (
    KafkaOffsetResetStrategy,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
)

from streamrec.job_config.settings import Topics


def to_placeholder_recommendation(raw: str) -> str:
    """Echo the trigger's ids; ``items`` stays empty until a model is served."""
    try:
        event = json.loads(raw)
        user_id, event_id, event_ts = event["user_id"], event["event_id"], event.get("ts")
    except (ValueError, KeyError, TypeError):
        user_id, event_id, event_ts = None, None, None
    return json.dumps(
        {
            "event_id": event_id,
            "user_id": user_id,
            "items": [],
            "model_version": "smoke",
            "event_ts": event_ts,
            "emitted_ts": int(time.time() * 1000),
        }
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--events-topic", default=Topics.events)
    parser.add_argument("--recommendations-topic", default=Topics.recommendations)
    parser.add_argument("--group-id", default="streamrec-smoke")
    parser.add_argument("--job-name", default="streamrec-smoke")
    parser.add_argument(
        "--checkpoint-interval-ms",
        type=int,
        default=2000,
        help="Exactly-once output becomes visible at each checkpoint",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.enable_checkpointing(args.checkpoint_interval_ms)

    source = (
        KafkaSource.builder()
        .set_bootstrap_servers(args.bootstrap)
        .set_topics(args.events_topic)
        .set_group_id(args.group_id)
        # Resume from the group's committed offsets (committed at checkpoints), so a
        # resubmitted smoke job does not replay the whole topic.
        .set_starting_offsets(
            KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST)
        )
        .set_value_only_deserializer(SimpleStringSchema())
        .build()
    )
    sink = (
        KafkaSink.builder()
        .set_bootstrap_servers(args.bootstrap)
        .set_record_serializer(
            KafkaRecordSerializationSchema.builder()
            .set_topic(args.recommendations_topic)
            .set_value_serialization_schema(SimpleStringSchema())
            .build()
        )
        .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
        .set_transactional_id_prefix(f"{args.job_name}-{args.recommendations_topic}")
        # Must not exceed the broker's transaction.max.timeout.ms.
        .set_property("transaction.timeout.ms", "600000")
        .build()
    )
    (
        env.from_source(source, WatermarkStrategy.no_watermarks(), "events-source")
        .uid("events-source")
        .map(to_placeholder_recommendation, output_type=Types.STRING())
        .uid("placeholder-recommendation")
        .sink_to(sink)
        .uid("recommendations-sink")
    )
    env.execute(args.job_name)


if __name__ == "__main__":
    main()
