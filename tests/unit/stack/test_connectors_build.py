"""Building jvm/streamrec-connectors: when Maven runs, where the jar lands, how failures
read; and that the Python side names the Java class and metric the sources define.
A fake ``mvn`` stands in for Maven (the real build runs in the integration tests)."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from streamrec.jobs import kafka_records
from streamrec.stack import toolchain
from streamrec.stack.errors import MissingToolError

FAKE_MVN = """#!/usr/bin/env bash
# Writes the jar where the real build would, and logs each call.
echo "$@" >> "$(dirname "$0")/calls"
for arg in "$@"; do
  case "$arg" in -Dstreamrec.build.dir=*) out="${arg#-Dstreamrec.build.dir=}" ;; esac
done
if [ -n "${FAIL:-}" ]; then echo "[ERROR] cannot find symbol"; exit 1; fi
echo jar > "$out/streamrec-connectors.jar"
"""


@pytest.fixture
def module(tmp_path: Path) -> Path:
    copy = tmp_path / "module"
    shutil.copytree(toolchain.connectors_module(), copy, ignore=shutil.ignore_patterns("target"))
    return copy


@pytest.fixture
def fake_mvn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mvn = bin_dir / "mvn"
    mvn.write_text(FAKE_MVN)
    mvn.chmod(mvn.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return bin_dir / "calls"


def calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_builds_once_per_source_version(module: Path, fake_mvn: Path, tmp_path: Path) -> None:
    jars = tmp_path / "jars"
    first = toolchain.build_connectors(jars, echo=False, module=module)
    assert first.read_text() == "jar\n" and first.parent == jars / toolchain.CONNECTORS
    assert toolchain.build_connectors(jars, echo=False, module=module) == first
    assert calls(fake_mvn) == 1

    # A build output in the module is not a source: no rebuild.
    (module / "target").mkdir()
    (module / "target" / "x.class").write_text("x")
    assert toolchain.build_connectors(jars, echo=False, module=module) == first

    java = next((module / "src").rglob("*.java"))
    java.write_text(java.read_text() + "\n// changed\n")
    second = toolchain.build_connectors(jars, echo=False, module=module)
    assert second != first and second.exists() and first.exists()
    assert calls(fake_mvn) == 2
    # Maven built in a private directory that is gone afterwards.
    assert sorted(p.name for p in second.parent.iterdir()) == sorted([first.name, second.name])


def test_failed_build_names_the_module_and_shows_mavens_output(
    module: Path, fake_mvn: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAIL", "1")
    with pytest.raises(MissingToolError, match="cannot find symbol") as info:
        toolchain.build_connectors(tmp_path / "jars", echo=False, module=module)
    assert str(module) in str(info.value)
    assert not toolchain.connectors_jar(tmp_path / "jars", module).exists()


def test_missing_maven_is_one_clear_error(
    module: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError, match="Maven not found"):
        toolchain.build_connectors(tmp_path / "jars", echo=False, module=module)


def test_python_names_what_the_java_source_defines() -> None:
    source_root = toolchain.connectors_module() / "src" / "main" / "java"
    java = source_root / (kafka_records.JAVA_CLASS.replace(".", "/") + ".java")
    text = java.read_text()
    assert f'METRIC = "{kafka_records.TOMBSTONE_METRIC}"' in text
    # The relocated Kafka client of flink-sql-connector-kafka, which runs on the cluster.
    assert "org.apache.flink.kafka.shaded.org.apache.kafka.clients.consumer.ConsumerRecord" in text


@pytest.mark.parametrize(
    ("source_name", "metric_id"),
    [
        ("events-source", "Source__events-source.deserializer.tombstonesSkipped"),
        ("a.b,c", "Source__a_b_c.deserializer.tombstonesSkipped"),
        ("x" * 100, f"Source__{'x' * 72}.deserializer.tombstonesSkipped"),
    ],
)
def test_metric_id_as_the_rest_api_spells_it(source_name: str, metric_id: str) -> None:
    assert kafka_records.tombstone_metric_id(source_name) == metric_id
