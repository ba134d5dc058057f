"""Test job for tests/integration/test_tombstones.py: copy a topic's record values,
read through the tombstone-counting deserializer, to another topic.

Each output value is ``<python type of the value>:<value>``, so the test also sees
that Python operators receive ``bytes`` as they did with ``ByteArraySchema``.
"""

from __future__ import annotations

import argparse

from pyflink.common import WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.common.typeinfo import Types
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.connectors.base import DeliveryGuarantee
from pyflink.datastream.connectors.kafka import (
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
)

from streamrec.jobs.kafka_records import set_bytes_deserializer

SOURCE_NAME = "tombstones-source"


def describe(value: bytes) -> str:
    return f"{type(value).__name__}:{value.decode()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--input-topic", required=True)
    parser.add_argument("--output-topic", required=True)
    parser.add_argument("--job-name", required=True)
    args = parser.parse_args()

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    builder = (
        KafkaSource.builder()
        .set_bootstrap_servers(args.bootstrap)
        .set_topics(args.input_topic)
        .set_group_id(args.job_name)
        .set_starting_offsets(KafkaOffsetsInitializer.earliest())
    )
    source = set_bytes_deserializer(builder).build()
    sink = (
        KafkaSink.builder()
        .set_bootstrap_servers(args.bootstrap)
        .set_record_serializer(
            KafkaRecordSerializationSchema.builder()
            .set_topic(args.output_topic)
            .set_value_serialization_schema(SimpleStringSchema())
            .build()
        )
        # Visible at once, without waiting for a checkpoint.
        .set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
        .build()
    )
    (
        env.from_source(source, WatermarkStrategy.no_watermarks(), SOURCE_NAME)
        .map(describe, output_type=Types.STRING())
        .sink_to(sink)
    )
    env.execute(args.job_name)


if __name__ == "__main__":
    main()
