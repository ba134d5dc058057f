"""The Kafka topics the job reads and writes, created idempotently by ``stack up``."""

from __future__ import annotations

from dataclasses import dataclass, field

from streamrec.contracts.limits import BROKER_MESSAGE_MAX_BYTES
from streamrec.job_config.flags import to_args
from streamrec.job_config.settings import Topics
from streamrec.stack.errors import StackError

# The models topic carries references to packages (< 2 KiB each), not their bytes, so it
# keeps the broker-wide limit; set on the topic so an older broker default cannot widen it.
MODELS_MAX_MESSAGE_BYTES = BROKER_MESSAGE_MAX_BYTES


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def stack_topics(partitions: int, prefix: str = "") -> list[TopicSpec]:
    """The stack's topics: models, rules and trending are compacted (latest per key wins).

    ``prefix`` gives a separate set of the same topics (tests run one job per set).
    """
    topics = Topics().prefixed(prefix)
    compacted = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}
    return [
        TopicSpec(topics.events, partitions),
        TopicSpec(topics.recommendations, partitions),
        TopicSpec(topics.dead_letters, 1),
        TopicSpec(
            topics.models,
            1,
            {**compacted, "max.message.bytes": str(MODELS_MAX_MESSAGE_BYTES)},
        ),
        TopicSpec(topics.rules, 1, dict(compacted)),
        # One record per scope per slide; compacted, so the newest list per scope stays.
        # Ten-minute segments: compaction only cleans closed ones, and a slide per minute
        # per category would otherwise fill a 1 GiB segment first.
        TopicSpec(topics.trending, 1, {**compacted, "segment.ms": "600000"}),
        TopicSpec(topics.feedback, 1),
        # Keyed by user like recommendations, so one user's records stay in order.
        TopicSpec(topics.serving_features, partitions),
    ]


def job_topic_args(prefix: str = "") -> list[str]:
    """``recommend.py`` flags naming the topics of ``stack_topics(prefix=prefix)``."""
    return to_args(Topics().prefixed(prefix))


def ensure_topics(bootstrap: str, specs: list[TopicSpec], timeout_s: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    # log_level 3: errors only; librdkafka otherwise prints notices on close.
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, 1, config=s.config) for s in missing],
        operation_timeout=timeout_s,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise StackError(f"kafka: could not create topic {name!r}: {exc}") from exc
    return created


def create_stack_topics(bootstrap: str, partitions: int) -> list[str]:
    return ensure_topics(bootstrap, stack_topics(partitions))
