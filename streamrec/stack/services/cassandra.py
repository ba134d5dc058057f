"""Apache Cassandra, single node, on Java 17, from the Maven Central jars."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from streamrec.stack import toolchain
from streamrec.stack.config import HOST
from streamrec.stack.ports import is_listening
from streamrec.stack.services.base import PortSpec, ProcessSpec, Service
from streamrec.stack.services.jvm import crash_options

# Within Cassandra's ~2 GiB share of the stack's memory budget: 1 GiB heap plus off-heap memtables,
# direct buffers and metaspace.
HEAP = ["-Xms1g", "-Xmx1g", "-Xmn256m", "-XX:MaxDirectMemorySize=256m"]

# Cassandra's own jvm17-server.options (GC and JPMS sections): without the
# exports/opens Cassandra fails at start on Java 17.
JVM17_OPTIONS = [
    "-XX:+UseG1GC",
    "-XX:+ParallelRefProcEnabled",
    "-XX:MaxTenuringThreshold=1",
    "-XX:G1HeapRegionSize=16m",
    "-XX:G1RSetUpdatingPauseTimePercent=5",
    "-XX:MaxGCPauseMillis=300",
    "-XX:InitiatingHeapOccupancyPercent=70",
    "-Djdk.attach.allowAttachSelf=true",
    "--add-exports",
    "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports",
    "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports",
    "java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports",
    "java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports",
    "java.sql/java.sql=ALL-UNNAMED",
    "--add-exports",
    "java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports",
    "jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports",
    "jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports",
    "jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens",
    "jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens",
    "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.io=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens",
    "jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.lang=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.util=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
]

# A lone seed node has nobody to gossip with: skip the settle wait (~30 s).
FAST_SINGLE_NODE = [
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
    "-Dcassandra.superuser_setup_delay_ms=0",
]


class CassandraService(Service):
    name = "cassandra"
    process_names = ("cassandra",)
    startup_timeout_s = 180.0
    stop_grace_s = 45.0

    def ports(self) -> list[PortSpec]:
        return [
            PortSpec(
                self.config.cassandra_port,
                "Cassandra CQL",
                "--cassandra-port",
                "STREAMREC_CASSANDRA_PORT",
            ),
            PortSpec(
                self.config.cassandra_storage_port,
                "Cassandra storage/gossip",
                "--cassandra-storage-port",
                "STREAMREC_CASSANDRA_STORAGE_PORT",
            ),
        ]

    def prepare(self) -> None:
        toolchain.resolve(self.config.jars_dir, "cassandra")
        self.home.mkdir(parents=True, exist_ok=True)
        template = resources.files("streamrec.stack") / "resources" / "cassandra.yaml.tmpl"
        (self.home / "cassandra.yaml").write_text(
            template.read_text().format(
                host=HOST,
                home=self.home,
                storage_port=self.config.cassandra_storage_port,
                native_port=self.config.cassandra_port,
            )
        )
        logback = resources.files("streamrec.stack") / "resources" / "cassandra-logback.xml"
        (self.home / "logback.xml").write_text(logback.read_text())

    def processes(self) -> list[ProcessSpec]:
        jars = toolchain.jar_dir(self.config.jars_dir, "cassandra")
        log_dir = self.config.log_dir / "cassandra"
        args = [
            toolchain.require_java(),
            *HEAP,
            *crash_options(self.config, "cassandra"),
            *JVM17_OPTIONS,
            *FAST_SINGLE_NODE,
            f"-javaagent:{toolchain.find_jar(jars, 'jamm-')}",
            f"-Dcassandra.config=file://{self.home / 'cassandra.yaml'}",
            f"-Dcassandra.storagedir={self.home}",
            f"-Dcassandra.logdir={log_dir}",
            f"-Dlogback.configurationFile=file://{self.home / 'logback.xml'}",
            "-Dcassandra-foreground=yes",
            "-cp",
            str(jars / "*"),
            "org.apache.cassandra.service.CassandraDaemon",
        ]
        return [ProcessSpec(name="cassandra", args=args, log_file=log_dir / "stdout.log")]

    def is_healthy(self) -> bool:
        if not is_listening(HOST, self.config.cassandra_port):
            return False
        from streamrec.stack.cql_client import connect

        try:
            with connect(HOST, self.config.cassandra_port) as session:
                session.execute("SELECT release_version FROM system.local")
        except Exception:
            return False
        return True

    def address(self) -> str:
        return f"{HOST}:{self.config.cassandra_port}"

    def after_start(self) -> None:
        from streamrec.stack.cql_client import connect
        from streamrec.stack.migrations import apply_migrations

        with connect(HOST, self.config.cassandra_port) as session:
            apply_migrations(session, self.config.keyspace)

    def log_files(self) -> list[Path]:
        log_dir = self.config.log_dir / "cassandra"
        return [log_dir / "system.log", log_dir / "stdout.log"]
