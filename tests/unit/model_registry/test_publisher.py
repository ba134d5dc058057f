from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streamrec.model_package.package import package_sha256
from streamrec.model_package.reference import parse_reference
from streamrec.model_package.signing import trusted_keys, verify
from streamrec.model_registry.artifact_store import FileArtifactStore
from streamrec.model_registry.errors import PublishError
from streamrec.model_registry.publisher import model_partition, publish_package


class FakeProducer:
    def __init__(self, config: dict, partitions: int = 3, fail_delivery: bool = False) -> None:
        self.config, self.sent = config, []
        self.partitions = partitions
        self.fail_delivery = fail_delivery

    def list_topics(self, topic: str, timeout: float) -> SimpleNamespace:
        if not self.partitions:
            return SimpleNamespace(topics={})
        parts = {i: None for i in range(self.partitions)}
        return SimpleNamespace(topics={topic: SimpleNamespace(error=None, partitions=parts)})

    def produce(self, topic, key, value, partition, on_delivery) -> None:
        self.sent.append((topic, key, value, partition))
        on_delivery("broker down" if self.fail_delivery else None, None)

    def flush(self, timeout: float) -> int:
        return 0


def test_model_partition_is_stable() -> None:
    assert model_partition("m", 4) == model_partition("m", 4)
    assert 0 <= model_partition("anything", 3) < 3


def test_package_is_stored_and_one_signed_reference_published(package_bytes, tmp_path) -> None:
    producers: list[FakeProducer] = []
    key = Ed25519PrivateKey.generate()

    def factory(config: dict) -> FakeProducer:
        producers.append(FakeProducer(config))
        return producers[-1]

    reference = publish_package(
        package_bytes, "k:9092", "models", store=FileArtifactStore(tmp_path),
        signing_key=key, producer_factory=factory,
    )  # fmt: skip
    [(topic, msg_key, value, partition)] = producers[0].sent
    assert (topic, msg_key) == ("models", b"test-model")
    assert partition == model_partition("test-model", 3)
    parsed = parse_reference(value)
    assert parsed == reference and (parsed.model_name, parsed.version) == ("test-model", "1")
    assert parsed.sha256 == package_sha256(package_bytes) and parsed.size == len(package_bytes)
    verify(parsed, trusted_keys([key.public_key()]))
    assert (tmp_path / f"{parsed.sha256}.srpkg").read_bytes() == package_bytes
    assert len(value) < 1024  # the topic carries a reference, never the package


def test_raw_bytes_publish_with_given_names(tmp_path) -> None:
    producer = FakeProducer({})
    reference = publish_package(
        b"not a zip", "k:9092", store=FileArtifactStore(tmp_path),
        signing_key=Ed25519PrivateKey.generate(), model_name="m", version="9",
        producer_factory=lambda c: producer,
    )  # fmt: skip
    assert (reference.model_name, reference.version, reference.size) == ("m", "9", 9)


def test_failed_delivery_and_missing_topic_raise_publish_error(package_bytes, tmp_path) -> None:
    common = {"store": FileArtifactStore(tmp_path), "signing_key": Ed25519PrivateKey.generate()}
    with pytest.raises(PublishError, match="not delivered"):
        publish_package(
            package_bytes, "k:9092", **common,
            producer_factory=lambda c: FakeProducer(c, fail_delivery=True),
        )  # fmt: skip
    with pytest.raises(PublishError, match="not available"):
        publish_package(
            package_bytes, "k:9092", **common, producer_factory=lambda c: FakeProducer(c, 0)
        )
