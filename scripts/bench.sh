#!/usr/bin/env bash
# The benchmark in one command: install, start the local stack, then run the job
# against baselines (a), (b) and (c). Arguments go to `streamrec bench` (see --help).
# results.json, the plot and bench.log (the load average at every phase) land in the
# results directory it prints at the end (--out to choose it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
streamrec stack up
exec streamrec bench "$@"
