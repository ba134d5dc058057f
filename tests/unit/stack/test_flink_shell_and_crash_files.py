"""`streamrec stack env` for Flink's own CLI, and JVM crash files kept under the data dir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamrec.cli.stack import stack
from streamrec.stack.config import StackConfig
from streamrec.stack.services.cassandra import CassandraService
from streamrec.stack.services.flink import FlinkService, flink_binary
from streamrec.stack.services.kafka import KafkaService


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return StackConfig(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")


def rendered(config: StackConfig) -> FlinkService:
    """A Flink service whose config was rendered, as `stack up flink` leaves it."""
    flink = FlinkService(config)
    flink.conf_dir.mkdir(parents=True)
    (flink.conf_dir / "config.yaml").write_text("rest.port: 1\n")
    return flink


def test_env_exports_make_the_flink_cli_target_the_stack(config: StackConfig) -> None:
    flink = rendered(config)
    result = CliRunner().invoke(stack, ["env", "--data-dir", str(config.data_dir)])
    assert result.exit_code == 0, result.output
    script = result.output
    assert script.startswith("# Flink CLI for the stack in")
    shell = subprocess.run(
        ["bash", "-c", f'{script}\necho "$FLINK_CONF_DIR|$FLINK_LIB_DIR|$FLINK_LOG_DIR|$PATH"; '
         "command -v flink; command -v python"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(config.data_dir)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    values, flink_path, python = shell.stdout.strip().splitlines()
    conf, lib, logs, path = values.split("|")
    assert (conf, lib, logs) == (str(flink.conf_dir), str(flink.lib_dir), str(flink.log_dir))
    assert path.endswith(":/usr/bin:/bin")
    # Only `flink` is put on PATH, not start-cluster.sh and the like, and it is the wheel's.
    assert Path(flink_path) == flink.client_bin_dir / "flink"
    assert Path(flink_path).resolve() == flink_binary().resolve()
    assert sorted(p.name for p in flink.client_bin_dir.iterdir()) == ["flink"]
    assert Path(python).parent == Path(sys.executable).parent


def test_env_keeps_a_java_home_the_shell_has(config: StackConfig) -> None:
    lines = rendered(config).shell_exports()
    java_home = next(line for line in lines if "JAVA_HOME" in line)
    shell = subprocess.run(
        ["bash", "-c", f'{java_home}; echo "$JAVA_HOME"'],
        env={"JAVA_HOME": "/opt/my-jdk"}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert shell.stdout.strip() == "/opt/my-jdk"


def test_env_before_flink_was_ever_started_names_the_fix(config: StackConfig) -> None:
    result = CliRunner().invoke(stack, ["env", "--data-dir", str(config.data_dir)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: no Flink configuration under {config.data_dir / 'flink' / 'conf'}; start Flink "
        f"once with `streamrec stack up flink --data-dir {config.data_dir}`"
    ]


def test_flink_jvms_write_crash_files_and_heap_dumps_under_the_data_dir(
    config: StackConfig,
) -> None:
    logs = config.data_dir / "logs"
    settings = FlinkService(config).settings()
    every = settings["env.java.opts.all"]
    assert "--add-opens=java.base/java.util=ALL-UNNAMED" in every
    assert every.endswith(f"-XX:ErrorFile={logs}/hs_err_pid%p.log")
    for role in ("jobmanager", "taskmanager"):
        assert settings[f"env.java.opts.{role}"] == (
            f"-XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath={logs}/flink-{role}.hprof"
        )


def test_flink_processes_start_in_the_log_dir(config: StackConfig) -> None:
    flink = FlinkService(config)
    for spec in flink.processes():
        start = spec.args.index("bash")
        assert spec.args[start : start + 4] == [
            "bash", "-c", 'cd "$0" && exec "$@"', str(flink.log_dir)
        ]  # fmt: skip
        assert spec.args[-1] == "start-foreground"


def test_kafka_and_cassandra_jvms_get_the_same_flags(config: StackConfig) -> None:
    jamm = config.jars_dir / "cassandra" / "jamm-0.4.0.jar"
    jamm.parent.mkdir(parents=True)
    jamm.write_bytes(b"")
    logs = config.data_dir / "logs"
    for service, stem in ((KafkaService(config), "kafka"), (CassandraService(config), "cassandra")):
        args = service.processes()[0].args
        assert f"-XX:ErrorFile={logs}/hs_err_pid%p.log" in args
        assert "-XX:+HeapDumpOnOutOfMemoryError" in args
        assert f"-XX:HeapDumpPath={logs}/{stem}.hprof" in args
