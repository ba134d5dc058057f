#!/usr/bin/env bash
# The main job end to end: install, start the local stack, submit the job,
# stream events and show recommendations and the Flink dashboard address.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
exec streamrec demo "$@"
