"""Prepare servers that ``streamrec stack up`` did not start (Docker Compose, Kubernetes)
for the job: its Kafka topics, the Cassandra schema and, optionally, the model-signing
key pair. The same steps ``stack up`` takes for its own servers, and as safe to repeat.

    python -m streamrec.stack.provision --bootstrap kafka:9092 --cassandra cassandra:9042

It does not wait for the servers: where they start alongside it, the orchestrator runs it
again until it succeeds (an init container, a Compose service with ``restart: on-failure``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streamrec.stack.config import StackConfig
from streamrec.stack.cql_client import connect
from streamrec.stack.errors import StackError
from streamrec.stack.keys import ensure_signing_keys, public_key_path
from streamrec.stack.migrations import apply_migrations
from streamrec.stack.topics import create_stack_topics

DEFAULTS = StackConfig(data_dir=Path("."), cache_dir=Path("."))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m streamrec.stack.provision", description=__doc__)
    p.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    p.add_argument("--cassandra", required=True, metavar="HOST:PORT")
    p.add_argument("--keyspace", default=DEFAULTS.keyspace)
    p.add_argument(
        "--partitions",
        type=int,
        default=DEFAULTS.topic_partitions,
        help="of the events and recommendations topics: the most parallelism that reads them",
    )
    p.add_argument(
        "--keys-home",
        type=Path,
        default=None,
        help="create the model-signing key pair in KEYS_HOME/keys/ if missing, as `stack up` "
        "does in its data dir (the job trusts the public key, publishers sign with the other)",
    )
    return p.parse_args(argv)


def provision(args: argparse.Namespace) -> list[str]:
    """Create what is missing; return one line per thing done."""
    host, port = host_and_port(args.cassandra)
    created = create_stack_topics(args.bootstrap, args.partitions)
    done = [f"topic {name} created" for name in created]
    with connect(host, port) as session:
        done += [f"migration {name} applied" for name in apply_migrations(session, args.keyspace)]
    if args.keys_home is not None:
        home = StackConfig(data_dir=args.keys_home, cache_dir=args.keys_home)
        if ensure_signing_keys(home):
            done.append(f"model signing key pair created; the job trusts {public_key_path(home)}")
    return done


def host_and_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise StackError(f"expected HOST:PORT for Cassandra, got {address!r}")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        done = provision(args)
    except Exception as ex:  # one line for the orchestrator's log; it runs this again
        print(f"provision: {type(ex).__name__}: {ex}", file=sys.stderr)
        return 1
    print("\n".join(done) or "provision: everything was already in place")
    return 0


if __name__ == "__main__":
    sys.exit(main())
