"""Restart the stack's TaskManager so that its Python workers import new streamrec code.

Here rather than on ``FlinkService``: it needs both the service's process (its pid) and
the cluster's REST API (which TaskManagers registered), and the REST client already
imports the service for ``bin/flink``'s environment.
"""

from __future__ import annotations

import os
import signal
import time

from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.errors import StackError
from streamrec.stack.services.flink import FlinkService


def restart_taskmanager(config: StackConfig, timeout_s: float = 120.0) -> int:
    """Stop the TaskManager JVM and wait until its supervisor's new one has registered.

    In thread mode a TaskManager keeps every Python module it imported, so this is how
    new streamrec code reaches the workers. Returns the new pid.
    """
    service = FlinkService(config)
    old_pid = service.taskmanager_pid()
    if old_pid is None:
        raise StackError(
            "no supervised TaskManager of this stack is running; start it with "
            "`streamrec stack up flink`"
        )
    old_ids = set(flink_client.taskmanager_ids(config))
    os.kill(old_pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pid = service.taskmanager_pid()
        if pid not in (None, old_pid) and set(flink_client.taskmanager_ids(config)) - old_ids:
            return pid
        time.sleep(0.5)
    raise StackError(
        f"the TaskManager did not come back within {timeout_s:.0f} s of a restart; "
        f"see {service.log_dir / 'taskmanager.out'}"
    )
