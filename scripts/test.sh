#!/usr/bin/env bash
# The whole test suite: lint, unit tests, then integration tests against a real
# Kafka/Cassandra/Flink/MLflow stack that the tests start on free ports and stop.
# Extra arguments go to pytest (e.g. -m "not integration" for unit tests only).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
ruff check streamrec tests
exec pytest "$@"
