from types import SimpleNamespace

import pytest

from streamrec.model_registry.chunks import Chunk, reassemble
from streamrec.model_registry.errors import PublishError
from streamrec.model_registry.publisher import model_partition, publish_package


class FakeProducer:
    def __init__(self, config: dict, partitions: int = 3, fail_delivery: bool = False) -> None:
        self.config, self.sent = config, []
        self.partitions = partitions
        self.fail_delivery = fail_delivery
        self.calls: list[str] = []

    def init_transactions(self, timeout: float) -> None:
        self.calls.append("init")

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def commit_transaction(self, timeout: float) -> None:
        self.calls.append("commit")

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")

    def list_topics(self, topic: str, timeout: float) -> SimpleNamespace:
        if not self.partitions:
            return SimpleNamespace(topics={})
        parts = {i: None for i in range(self.partitions)}
        return SimpleNamespace(topics={topic: SimpleNamespace(error=None, partitions=parts)})

    def produce(self, topic, key, value, partition, on_delivery) -> None:
        self.sent.append((topic, key, value, partition))
        on_delivery("broker down" if self.fail_delivery else None, None)

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return 0


def test_chunks_go_to_one_partition_with_per_index_keys(package_bytes: bytes) -> None:
    producers: list[FakeProducer] = []

    def factory(config: dict) -> FakeProducer:
        producers.append(FakeProducer(config))
        return producers[-1]

    n = publish_package(package_bytes, "k:9092", "models", 64 * 1024, producer_factory=factory)
    sent = producers[0].sent
    assert n == len(sent) > 1
    assert {p for *_, p in sent} == {model_partition("test-model", 3)}
    assert [k for _, k, _, _ in sent] == [f"test-model/{i}".encode() for i in range(n)]
    assert reassemble([Chunk.from_bytes(v) for _, _, v, _ in sent]) == package_bytes
    # All chunks in one transaction, so readers see all of them or none.
    assert producers[0].calls == ["init", "begin", "commit"]
    assert producers[0].config["transactional.id"] == "streamrec-publisher-test-model"


def test_a_failed_chunk_aborts_the_whole_package(package_bytes: bytes) -> None:
    producers: list[FakeProducer] = []

    def factory(config: dict) -> FakeProducer:
        producers.append(FakeProducer(config, fail_delivery=True))
        return producers[-1]

    with pytest.raises(PublishError, match="transaction was aborted"):
        publish_package(package_bytes, "k:9092", "models", 64 * 1024, producer_factory=factory)
    assert producers[0].calls == ["init", "begin", "abort"]


def test_missing_topic_is_a_publish_error(package_bytes: bytes) -> None:
    with pytest.raises(PublishError, match="not available"):
        publish_package(package_bytes, "k:9092", producer_factory=lambda c: FakeProducer(c, 0))
