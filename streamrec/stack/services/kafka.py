"""Apache Kafka, single node in KRaft mode (broker and controller in one JVM)."""

from __future__ import annotations

import base64
import subprocess
import uuid
from importlib import resources
from pathlib import Path

from streamrec.contracts.limits import BROKER_MESSAGE_MAX_BYTES
from streamrec.stack import toolchain
from streamrec.stack.config import HOST
from streamrec.stack.errors import ServiceStartError
from streamrec.stack.services.base import PortSpec, ProcessSpec, Service
from streamrec.stack.services.jvm import crash_options

# The broker needs ~300 MiB at rest; 768 MiB leaves room for transactions
# within Kafka's ~1 GiB share of the stack's memory budget.
HEAP = ["-Xms256m", "-Xmx768m"]

# Kafka's default (1,048,588 bytes per record batch), written out because the job's
# producers and dead letters are sized against it (contracts.limits). Model packages
# no longer travel on Kafka: the models topic carries signed references of < 2 KiB.
MAX_MESSAGE_BYTES = BROKER_MESSAGE_MAX_BYTES


class KafkaService(Service):
    name = "kafka"
    process_names = ("kafka",)
    startup_timeout_s = 90.0

    @property
    def properties_file(self) -> Path:
        return self.home / "server.properties"

    def ports(self) -> list[PortSpec]:
        return [
            PortSpec(
                self.config.kafka_port, "Kafka broker", "--kafka-port", "STREAMREC_KAFKA_PORT"
            ),
            PortSpec(
                self.config.kafka_controller_port,
                "Kafka KRaft controller",
                "--kafka-controller-port",
                "STREAMREC_KAFKA_CONTROLLER_PORT",
            ),
        ]

    def _properties(self) -> str:
        c = self.config
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{HOST}:{c.kafka_controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{c.kafka_port},CONTROLLER://{HOST}:{c.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{c.kafka_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.home / "data"),
            "num.partitions": "1",
            # Single node: every internal topic has one replica.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Flink's KafkaSink opens transactions that live up to its checkpoint
            # timeout; allow up to 1 h like the connector's default.
            "transaction.max.timeout.ms": "3600000",
            "group.initial.rebalance.delay.ms": "0",
            # Topics are created on purpose (stack up, tests); a typo must fail.
            "auto.create.topics.enable": "false",
            "message.max.bytes": str(MAX_MESSAGE_BYTES),
            "replica.fetch.max.bytes": str(MAX_MESSAGE_BYTES),
        }
        return "".join(f"{k}={v}\n" for k, v in lines.items())

    def prepare(self) -> None:
        toolchain.resolve(self.config.jars_dir, "kafka")
        self.home.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(self._properties())
        log_config = resources.files("streamrec.stack") / "resources" / "kafka-log4j2.yaml"
        (self.home / "log4j2.yaml").write_text(log_config.read_text())
        if not (self.home / "data" / "meta.properties").exists():
            self._format_storage()

    def _java_base(self) -> list[str]:
        classpath = str(toolchain.jar_dir(self.config.jars_dir, "kafka") / "*")
        return [
            toolchain.require_java(),
            *HEAP,
            *crash_options(self.config, "kafka"),
            f"-Dkafka.logs.dir={self.config.log_dir / 'kafka'}",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}",
            "-cp",
            classpath,
        ]

    def _format_storage(self) -> None:
        # KRaft cluster ids are 16 random bytes, base64url without padding.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        proc = subprocess.run(
            [
                *self._java_base(),
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id,
                "-c",
                str(self.properties_file),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ServiceStartError(
                "kafka: formatting KRaft storage failed; delete "
                f"{self.home / 'data'} and retry:\n{proc.stdout}{proc.stderr}"
            )

    def processes(self) -> list[ProcessSpec]:
        return [
            ProcessSpec(
                name="kafka",
                args=[*self._java_base(), "kafka.Kafka", str(self.properties_file)],
                log_file=self.config.log_dir / "kafka" / "stdout.log",
            )
        ]

    def is_healthy(self) -> bool:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.config.kafka_bootstrap, "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=2)
        except Exception:
            return False
        return bool(metadata.brokers)

    def address(self) -> str:
        return self.config.kafka_bootstrap

    def after_start(self) -> None:
        from streamrec.stack.topics import create_stack_topics

        create_stack_topics(self.config.kafka_bootstrap, self.config.topic_partitions)

    def log_files(self) -> list[Path]:
        return [
            self.config.log_dir / "kafka" / "server.log",
            self.config.log_dir / "kafka" / "stdout.log",
        ]
