"""Run the previous release of the job, its own code, against the test stack's servers.

The code is the release's ``streamrec`` package as ``git archive`` wrote it, committed under
tests/data/previous-release/ (CI may check out without history) and extracted into a
temporary directory per run. It reaches Python through ``PYTHONPATH``, which
comes before the virtualenv's editable install of this checkout. It runs on a Flink
cluster of its own: a thread-mode TaskManager keeps every module it imported, so the
session's TaskManager can run only one streamrec at a time. That cluster talks to the
session's Kafka, Cassandra and MLflow, and is stopped before the new job starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

from streamrec.stack import process
from streamrec.stack.config import StackConfig
from streamrec.stack.flink_client import JOB_ID
from streamrec.stack.launcher import Stack
from streamrec.stack.services.flink import flink_binary, flink_client_env
from tests.integration.conftest import free_port

# The release before the scoring worker: flat pending state, JVM keyBy and the worker came
# after it (docs/architecture.md, "Upgrading from the previous release").
PREVIOUS_RELEASE = "589afc7"
RELEASE_ARCHIVE = (
    Path(__file__).resolve().parents[1] / "data" / "previous-release" / "streamrec.tar.gz"
)
RELEASE_ARCHIVE_SHA256 = "83f03f819f4fe2c40dfbef83d475e728a665cd1ad7656e1eae4d8f72c7f61e37"

# A small model (150 items, as tests/unit/conftest.py), trained and packaged by the old
# code, as the model served before an upgrade was. Module paths are the old release's.
_BUILD_PACKAGE = """
import sys
from streamrec.model_registry.package import build_package
from streamrec.model_registry.synthetic import SyntheticConfig, generate
from streamrec.model_registry.train import TrainConfig, train

data = generate(SyntheticConfig(seed=3, n_users=100, n_items=150, n_categories=6, days=7))
result = train(data.events, data.item_categories, TrainConfig(
    epochs=1, batch_size=256, ranker_users=50, max_examples=5_000, embedding_dim=8))
package = build_package(result.artifacts, sys.argv[2], "1", result.metrics, created_ms=1)
open(sys.argv[1], "wb").write(package)
"""


def export_release(dest: Path, commit: str = PREVIOUS_RELEASE) -> Path:
    """``commit``'s ``streamrec`` package under ``dest``; returns the directory for PYTHONPATH.

    The archive is byte-for-byte what ``git archive --format=tar <commit> streamrec | gzip
    -9n`` gives in a full clone, so its digest proves which code the test runs."""
    archive = RELEASE_ARCHIVE
    data = archive.read_bytes()
    assert hashlib.sha256(data).hexdigest() == RELEASE_ARCHIVE_SHA256, (
        f"{archive} is not the archive of release {commit}; remake it with "
        f"git archive --format=tar {commit} streamrec | gzip -9n > {archive}"
    )
    with tarfile.open(fileobj=BytesIO(data), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")
    return dest


class PackageBuild:
    """A model package made by the code in ``tree``, in a process of its own (~35 s of
    training on 2 cores, so the caller starts the old cluster meanwhile)."""

    def __init__(self, tree: Path, out: Path, model_name: str) -> None:
        self.out = out
        self.log = out.with_suffix(".log")
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _BUILD_PACKAGE, str(out), model_name],
                env={**os.environ, "PYTHONPATH": str(tree)},
                cwd=tree,  # not this checkout: "-c" puts the working directory on sys.path
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def result(self, timeout_s: float = 300) -> bytes:
        code = self._proc.wait(timeout_s)
        assert code == 0, (
            f"the previous release could not build a package (exit {code}):\n"
            f"{self.log.read_text(errors='replace')[-3000:]}"
        )
        return self.out.read_bytes()

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


def submit_job(config: StackConfig, tree: Path, job_args: list[str]) -> str:
    """``flink run`` of the release's ``jobs/recommend.py``, from ``tree`` (the client may
    put its working directory first on sys.path, which must not be this checkout)."""
    script = tree / "streamrec" / "jobs" / "recommend.py"
    done = subprocess.run(
        ["bash", str(flink_binary()), "run", "--detached", "--python", str(script), *job_args],
        env=flink_client_env(config),
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    found = JOB_ID.search(output)
    assert done.returncode == 0 and found, f"the previous release's job did not start:\n{output}"
    return found.group(1)


@contextmanager
def previous_release_cluster(
    stack_config: StackConfig, tree: Path, data_dir: Path
) -> Iterator[StackConfig]:
    """A Flink cluster whose TaskManager (and whose ``flink run`` clients, while this is
    open) import streamrec from ``tree``; yields its config (the session's other servers)."""
    config = dataclasses.replace(
        stack_config,
        data_dir=data_dir,
        flink_rest_port=free_port(),
        flink_rpc_port=free_port(),
        flink_metrics_port=free_port(),
    )
    cluster = Stack(config, echo=lambda _line: None)
    saved = os.environ.get("PYTHONPATH")
    # Read when the cluster's processes and each `flink run` client are spawned.
    os.environ["PYTHONPATH"] = str(tree)
    try:
        cluster.up(["flink"])
        yield config
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
        cluster.down(["flink"])
        leftovers = process.owned_pids(str(data_dir))
        assert leftovers == [], f"the previous release's cluster left processes: {leftovers}"
