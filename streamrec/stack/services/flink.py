"""Apache Flink standalone cluster (JobManager + TaskManager) from the PyFlink wheel.

The scripts ship in ``apache-flink`` (``pyflink/bin``) and the jars in
``apache-flink-libraries`` (``pyflink/lib``). Nothing is written into
site-packages: the launcher assembles its own lib directory (symlinks to the
wheel's jars plus the Kafka connector) and config directory under the data dir
and points ``FLINK_LIB_DIR``/``FLINK_CONF_DIR``/``FLINK_LOG_DIR``/``FLINK_PID_DIR``
at them. JobManager and TaskManager run with ``start-foreground`` so that the
pid we spawn is the JVM itself.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from streamrec.stack import process, toolchain
from streamrec.stack.config import HOST, StackConfig
from streamrec.stack.errors import MissingToolError, StackError
from streamrec.stack.services.base import PortSpec, ProcessSpec, Service
from streamrec.stack.services.jvm import error_file_option, heap_dump_options, in_directory


def pyflink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).parent


def repo_flink_conf() -> Path:
    """The project's ``flink-conf/config.yaml`` (override: ``STREAMREC_FLINK_CONF``)."""
    override = os.environ.get("STREAMREC_FLINK_CONF")
    path = (
        Path(override)
        if override
        else Path(__file__).resolve().parents[3] / "flink-conf" / "config.yaml"
    )
    if not path.exists():
        raise MissingToolError(
            f"Flink settings not found at {path}: run from a streamrec checkout or set "
            "STREAMREC_FLINK_CONF to the config.yaml to use"
        )
    return path


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested YAML maps to Flink's dotted keys (``a: {b: 1}`` -> ``a.b: 1``)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


class FlinkService(Service):
    name = "flink"
    process_names = ("flink-jobmanager", "flink-taskmanager")
    startup_timeout_s = 120.0

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def lib_dir(self) -> Path:
        return self.home / "lib"

    @property
    def log_dir(self) -> Path:
        return self.config.log_dir / "flink"

    @property
    def client_bin_dir(self) -> Path:
        """Holds only ``flink``: Flink's bin/ also has start-cluster.sh, which would start
        a second TaskManager against this cluster if it were on PATH."""
        return self.home / "bin"

    @property
    def savepoint_dir(self) -> Path:
        return self.home / "savepoints"

    @property
    def checkpoint_dir(self) -> Path:
        return self.home / "checkpoints"

    def ports(self) -> list[PortSpec]:
        return [
            PortSpec(
                self.config.flink_rest_port,
                "Flink REST API / web dashboard",
                "--flink-rest-port",
                "STREAMREC_FLINK_REST_PORT",
            ),
            PortSpec(
                self.config.flink_rpc_port,
                "Flink JobManager RPC",
                "--flink-rpc-port",
                "STREAMREC_FLINK_RPC_PORT",
            ),
            PortSpec(
                self.config.flink_metrics_port,
                "Flink Prometheus metrics (JobManager or TaskManager)",
                "--flink-metrics-port",
                "STREAMREC_FLINK_METRICS_PORT",
            ),
        ]

    def settings(self) -> dict[str, Any]:
        """The effective Flink configuration: repo settings plus machine-specific values."""
        packaged = flatten(yaml.safe_load((pyflink_home() / "conf" / "config.yaml").read_text()))
        ours = flatten(yaml.safe_load(repo_flink_conf().read_text()) or {})
        c = self.config
        python = sys.executable
        machine = {
            # Packaged module flags, then the repo's own, then where crash files go (the
            # hs_err file of the JobManager, TaskManager and `flink` client alike).
            "env.java.opts.all": join_opts(
                packaged["env.java.opts.all"], ours.get("env.java.opts.all"), error_file_option(c)
            ),
            # Heap dumps per process, so the TaskManager's does not block the JobManager's.
            "env.java.opts.jobmanager": join_opts(
                ours.get("env.java.opts.jobmanager"), *heap_dump_options(c, "flink-jobmanager")
            ),
            "env.java.opts.taskmanager": join_opts(
                ours.get("env.java.opts.taskmanager"), *heap_dump_options(c, "flink-taskmanager")
            ),
            "jobmanager.bind-host": HOST,
            "jobmanager.rpc.address": HOST,
            "jobmanager.rpc.port": c.flink_rpc_port,
            "taskmanager.bind-host": HOST,
            "taskmanager.host": HOST,
            "rest.address": HOST,
            "rest.bind-address": HOST,
            "rest.port": c.flink_rest_port,
            # The JobManager and the TaskManager each bind the first free port of the two.
            "metrics.reporter.prom.port": f"{c.flink_metrics_port}-{c.flink_metrics_port + 1}",
            "execution.checkpointing.dir": f"file://{self.checkpoint_dir}",
            "execution.checkpointing.savepoint-dir": f"file://{self.savepoint_dir}",
            "io.tmp.dirs": str(self.home / "tmp"),
            "blob.storage.directory": str(self.home / "blobs"),
            "web.upload.dir": str(self.home / "web-upload"),
            # Workers and the job client use the virtualenv that has streamrec.
            "python.executable": python,
            "python.client.executable": python,
        }
        return {**ours, **machine}

    def prepare(self) -> None:
        toolchain.resolve(self.config.jars_dir, "flink-connectors")
        toolchain.resolve(self.config.jars_dir, "flink-metrics")
        for sub in (
            "conf",
            "lib",
            "plugins",
            "checkpoints",
            "savepoints",
            "tmp",
            "blobs",
            "web-upload",
            "pids",
        ):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._link_jars()
        self._link_plugins()
        self.link_client()
        packaged_conf = pyflink_home() / "conf"
        for name in (
            "log4j-console.properties",
            "log4j-cli.properties",
            "log4j.properties",
            "logback-console.xml",
        ):
            shutil.copyfile(packaged_conf / name, self.conf_dir / name)
        (self.conf_dir / "config.yaml").write_text(
            "# Rendered by `streamrec stack up` from flink-conf/config.yaml; edit that file.\n"
            + yaml.safe_dump(self.settings(), sort_keys=True, width=10_000)
        )

    def _link_jars(self) -> None:
        # streamrec's own classes (the tombstone-counting Kafka deserializer); Maven runs
        # only when jvm/streamrec-connectors changed since the cached jar was built.
        own_jar = toolchain.build_connectors(self.config.jars_dir)
        for old in self.lib_dir.iterdir():
            old.unlink()
        connectors = toolchain.jar_dir(self.config.jars_dir, "flink-connectors")
        # flink-python from opt/ goes into lib/ so that pemja (thread mode) is loaded once
        # per TaskManager: loaded again by a later job's class loader, its native library
        # load fails on Java 17 (NoSuchFieldException: loadedLibraryNames).
        for jar in [
            *(pyflink_home() / "lib").glob("*.jar"),
            *(pyflink_home() / "opt").glob("flink-python-*.jar"),
            *connectors.glob("*.jar"),
            # In lib/, not shipped with the job: the client's py4j gateway and the
            # TaskManager must load it beside the connector it implements.
            own_jar,
        ]:
            (self.lib_dir / jar.name).symlink_to(jar)

    def _link_plugins(self) -> None:
        """Metric reporters are Flink plugins: one directory each under plugins/, loaded in
        a class loader of their own (Flink's recommended way, and no clash with lib/)."""
        reporter = self.plugins_dir / "metrics-prometheus"
        if reporter.exists():
            shutil.rmtree(reporter)
        reporter.mkdir(parents=True)
        for jar in toolchain.jar_dir(self.config.jars_dir, "flink-metrics").glob("*.jar"):
            (reporter / jar.name).symlink_to(jar)

    @property
    def plugins_dir(self) -> Path:
        return self.home / "plugins"

    def link_client(self) -> Path:
        """``<flink home>/bin/flink``, a link to the wheel's script (it follows links to
        find its own bin/); returns the directory to put on PATH."""
        self.client_bin_dir.mkdir(parents=True, exist_ok=True)
        link = self.client_bin_dir / "flink"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(flink_binary())
        return self.client_bin_dir

    def shell_exports(self) -> list[str]:
        """``export`` lines after which Flink's own ``flink`` CLI talks to this cluster."""
        if not (self.conf_dir / "config.yaml").exists():
            raise StackError(
                f"no Flink configuration under {self.conf_dir}; start Flink once with "
                f"`streamrec stack up flink --data-dir {self.config.data_dir}`"
            )
        env = self.env()
        # The venv's bin: `flink run --python` and the thread-mode workers need its python.
        path = [str(self.link_client()), str(Path(sys.executable).parent)]
        return [
            f"export FLINK_CONF_DIR={shlex.quote(env['FLINK_CONF_DIR'])}",
            f"export FLINK_LIB_DIR={shlex.quote(env['FLINK_LIB_DIR'])}",
            # Otherwise the client logs into site-packages/pyflink/log.
            f"export FLINK_LOG_DIR={shlex.quote(env['FLINK_LOG_DIR'])}",
            # A JAVA_HOME the shell already has wins.
            f'export JAVA_HOME="${{JAVA_HOME:-{env["JAVA_HOME"]}}}"',
            f'export PATH={shlex.quote(os.pathsep.join(path))}"{os.pathsep}$PATH"',
        ]

    def env(self) -> dict[str, str]:
        """Environment for the cluster scripts and for ``bin/flink`` clients."""
        env = dict(os.environ)
        venv_bin = str(Path(sys.executable).parent)
        env.update(
            FLINK_CONF_DIR=str(self.conf_dir),
            FLINK_LIB_DIR=str(self.lib_dir),
            FLINK_PLUGINS_DIR=str(self.plugins_dir),
            FLINK_LOG_DIR=str(self.log_dir),
            FLINK_PID_DIR=str(self.home / "pids"),
            # Thread mode loads pemja from the interpreter found on PATH.
            PATH=f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
        )
        java = toolchain.require_java()
        env.setdefault("JAVA_HOME", str(Path(java).resolve().parents[1]))
        return env

    def processes(self) -> list[ProcessSpec]:
        bin_dir = pyflink_home() / "bin"
        env = self.env()
        return [
            ProcessSpec(
                name="flink-jobmanager",
                args=in_directory(
                    self.log_dir, ["bash", str(bin_dir / "jobmanager.sh"), "start-foreground"]
                ),
                log_file=self.log_dir / "jobmanager.out",
                env=env,
            ),
            # Supervised, as Kubernetes would: a TaskManager that dies comes back, and the
            # JobManager then restarts the job from its latest checkpoint.
            ProcessSpec(
                name="flink-taskmanager",
                args=supervised(
                    in_directory(
                        self.log_dir,
                        ["bash", str(bin_dir / "taskmanager.sh"), "start-foreground"],
                    ),
                    self.taskmanager_pid_file,
                ),
                log_file=self.log_dir / "taskmanager.out",
                env=env,
            ),
        ]

    @property
    def taskmanager_pid_file(self) -> Path:
        return self.home / "pids" / "taskmanager.jvm.pid"

    def taskmanager_pid(self) -> int | None:
        """The pid of the TaskManager JVM (not its supervisor), if it is alive and ours."""
        try:
            pid = int(self.taskmanager_pid_file.read_text())
        except (OSError, ValueError):
            return None
        return pid if process.owned_by(pid, str(self.config.data_dir)) else None

    def log_files(self) -> list[Path]:
        return [self.log_dir / "jobmanager.out", self.log_dir / "taskmanager.out"]

    def is_healthy(self) -> bool:
        import requests

        try:
            overview = requests.get(f"{self.config.flink_rest_url}/overview", timeout=2).json()
        except (requests.RequestException, ValueError):
            return False
        return int(overview.get("taskmanagers", 0)) >= 1

    def address(self) -> str:
        return f"{self.config.flink_rest_url} (dashboard)"


def join_opts(*parts: str | None) -> str:
    """JVM option strings joined with single spaces (Flink's scripts split them on spaces)."""
    return " ".join(p.strip() for p in parts if p and p.strip())


def flink_binary() -> Path:
    return pyflink_home() / "bin" / "flink"


def flink_client_env(config: StackConfig) -> dict[str, str]:
    """Environment for ``bin/flink`` against this stack (same lib and conf dirs)."""
    return FlinkService(config).env()


def supervised(command: list[str], pid_file: Path) -> list[str]:
    """``command`` run under :mod:`streamrec.stack.supervise` (restarted when it dies)."""
    return [sys.executable, "-m", "streamrec.stack.supervise", "--pid-file", str(pid_file),
            "--", *command]  # fmt: skip
