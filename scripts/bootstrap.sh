#!/usr/bin/env bash
# Install everything streamrec needs on a fresh Debian machine, idempotently:
# Java 17 and Maven (apt), a Python 3.11 virtualenv with the pinned packages
# (pip), and the Kafka/Cassandra/Flink-connector jars (Maven Central).
# Sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  echo "bootstrap: installing $* with apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1
}

if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then
  apt_install openjdk-17-jdk-headless
fi
command -v mvn >/dev/null || apt_install maven
# The optional metrics server (`streamrec stack up prometheus`); its test runs in the suite.
command -v prometheus >/dev/null || [ -x /usr/bin/prometheus ] || apt_install prometheus

PYTHON="$(command -v python3.11 || true)"
if [ -z "$PYTHON" ]; then
  apt_install python3.11 python3.11-venv
  PYTHON="$(command -v python3.11)"
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when the dependency declaration changed.
STAMP="$VENV/.streamrec-installed-$(sha256sum "$REPO_ROOT/pyproject.toml" | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  echo "bootstrap: installing Python packages into $VENV (first time: several minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
  "$VENV/bin/python" -m pip install -q -e "$REPO_ROOT[dev]"
  rm -f "$VENV"/.streamrec-installed-*
  touch "$STAMP"
fi

"$VENV/bin/streamrec" stack fetch
# streamrec's own Flink classes (jvm/streamrec-connectors); Maven runs only on a change.
"$VENV/bin/python" -m streamrec.stack.toolchain
export PATH="$VENV/bin:$PATH"
