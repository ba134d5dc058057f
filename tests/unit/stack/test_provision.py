import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamrec.stack import provision
from streamrec.stack.errors import StackError


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    calls: list[tuple] = []

    @contextlib.contextmanager
    def connect(host: str, port: int) -> Iterator[str]:
        calls.append(("connect", host, port))
        yield "session"

    def topics(bootstrap: str, partitions: int) -> list[str]:
        calls.append(("topics", bootstrap, partitions))
        return ["events"]

    def migrations(session: str, keyspace: str) -> list[str]:
        calls.append(("migrations", session, keyspace))
        return []

    monkeypatch.setattr(provision, "connect", connect)
    monkeypatch.setattr(provision, "create_stack_topics", topics)
    monkeypatch.setattr(provision, "apply_migrations", migrations)
    return calls


def test_topics_schema_and_keys_are_created_where_missing(
    servers: list[tuple], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--bootstrap",
        "kafka:9092",
        "--cassandra",
        "cassandra:9042",
        "--keys-home",
        str(tmp_path),
    ]
    assert provision.main(argv) == 0
    assert servers == [
        ("topics", "kafka:9092", 4),
        ("connect", "cassandra", 9042),
        ("migrations", "session", "streamrec"),
    ]
    assert (tmp_path / "keys" / "model-signing.pub.pem").is_file()
    assert "topic events created" in capsys.readouterr().out
    assert provision.main(argv) == 0  # again: the keys are kept
    assert "key pair created" not in capsys.readouterr().out


def test_a_bad_cassandra_address_fails_before_anything_is_created(
    servers: list[tuple], capsys: pytest.CaptureFixture[str]
) -> None:
    assert provision.main(["--bootstrap", "k:9092", "--cassandra", "cassandra"]) == 1
    assert servers == []
    assert "expected HOST:PORT for Cassandra, got 'cassandra'" in capsys.readouterr().err


def test_host_and_port() -> None:
    assert provision.host_and_port("10.0.0.1:9042") == ("10.0.0.1", 9042)
    with pytest.raises(StackError):
        provision.host_and_port(":9042")
