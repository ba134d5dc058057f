"""Kafka record values as ``bytes``, with tombstones skipped and counted in the JVM.

PyFlink's ``ByteArraySchema`` drops a null value (a tombstone) silently inside the
source. :func:`set_bytes_deserializer` installs streamrec's own Java deserializer
(``jvm/streamrec-connectors``, ``TombstoneCountingBytesDeserializer``) instead: it
emits exactly the same ``bytes`` for every other record and counts each skipped
tombstone in the source operator's metric :data:`TOMBSTONE_METRIC`, so normal
records cost nothing extra and Python never sees a tombstone.

The class is on the cluster's classpath because ``streamrec stack up`` links the jar
into Flink's lib dir (both the ``flink run`` client and the TaskManager use it).
"""

from __future__ import annotations

from typing import Any

from py4j.java_gateway import JavaClass
from pyflink.datastream.connectors.kafka import KafkaSourceBuilder
from pyflink.java_gateway import get_gateway

JAVA_CLASS = "dev.streamrec.connectors.TombstoneCountingBytesDeserializer"
TOMBSTONE_METRIC = "tombstonesSkipped"
# KafkaSource opens the deserializer with its reader's metric group plus this group.
METRIC_GROUP = "deserializer"
TOMBSTONE_METRIC_PATH = f"{METRIC_GROUP}.{TOMBSTONE_METRIC}"
OPERATOR_NAME_MAX = 80


def tombstone_counting_deserializer() -> Any:
    """A new Java ``KafkaRecordDeserializationSchema<byte[]>`` (a py4j object)."""
    java_class = get_gateway().jvm
    for part in JAVA_CLASS.split("."):
        java_class = getattr(java_class, part)
    # py4j answers an unknown class with a JavaPackage, which fails later and obscurely.
    if not isinstance(java_class, JavaClass):
        raise RuntimeError(
            f"{JAVA_CLASS} is not on the Flink classpath: start the cluster with "
            "`streamrec stack up`, which builds jvm/streamrec-connectors and links its jar "
            "into Flink's lib dir"
        )
    return java_class()


def set_bytes_deserializer(builder: KafkaSourceBuilder) -> KafkaSourceBuilder:
    """Make ``builder``'s source emit record values as ``bytes``, counting tombstones.

    Replaces ``builder.set_value_only_deserializer(ByteArraySchema())``; the produced
    type is the same (``Types.PRIMITIVE_ARRAY(Types.BYTE())``).
    """
    # PyFlink 2.3 wraps no KafkaRecordDeserializationSchema, so the Java builder is set
    # directly.
    builder._j_builder.setDeserializer(tombstone_counting_deserializer())
    return builder


def tombstone_metric_id(source_name: str) -> str:
    """The metric's id in the REST API (``/jobs/<id>/vertices/<vid>/subtasks/metrics``)
    for a source added with ``env.from_source(..., source_name)``, e.g.
    ``Source__events-source.deserializer.tombstonesSkipped``."""
    return f"{source_operator(source_name)}.{TOMBSTONE_METRIC_PATH}"


def source_operator(source_name: str) -> str:
    """The REST API's name for the operator of ``env.from_source(..., source_name)``."""
    return operator_metric_name(f"Source: {source_name}")


def operator_metric_name(operator_name: str) -> str:
    """An operator name as the REST API spells it in metric ids: Flink cuts it to
    80 characters (MetricUtils.truncateOperatorName) and its metric query service
    replaces the characters it reserves (space . : ,) with ``_``."""
    return "".join("_" if ch in " .:," else ch for ch in operator_name[:OPERATOR_NAME_MAX])
