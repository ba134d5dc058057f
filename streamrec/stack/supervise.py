"""Keep one server process running: start it again when it dies, as Kubernetes or systemd would.

The local stack runs Flink's TaskManager under this, so a TaskManager that crashes (or that a
failover test kills) comes back and the JobManager restarts the job from its latest checkpoint,
as a standalone cluster does in production. The supervised process's pid is written to
``--pid-file`` so that tools can act on the real server, not on this wrapper.

Usage: ``python -m streamrec.stack.supervise --pid-file F -- command args...``. SIGTERM or
SIGINT is passed on to the server, and then this exits with the server's status.
Only the standard library is imported: this process should cost a few MB, not a TensorFlow.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0
"""A run this long resets the backoff: the crash was not part of a crash loop."""


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} [supervise] {message}", file=sys.stderr, flush=True)


def supervise(command: list[str], pid_file: Path | None) -> int:
    stopping = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    backoff = FIRST_BACKOFF_S
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)
        if pid_file is not None:
            pid_file.write_text(str(child.pid))
        code = child.wait()
        if stopping.is_set():
            return code
        lived = time.monotonic() - started
        if lived > STABLE_AFTER_S:
            backoff = FIRST_BACKOFF_S
        log(f"pid {child.pid} exited with {code} after {lived:.0f} s; restart in {backoff:.0f} s")
        if stopping.wait(backoff):
            return code
        backoff = min(backoff * 2, MAX_BACKOFF_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamrec.stack.supervise")
    parser.add_argument("--pid-file", type=Path, help="where to write the server's pid")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command args...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to supervise after --")
    return supervise(command, args.pid_file)


if __name__ == "__main__":
    sys.exit(main())
