"""Java and Maven: find them, check them, and resolve the stack's jars.

Jars come from Maven Central through the poms in ``streamrec/stack/maven/``;
each pom resolves into its own directory so Kafka and Cassandra never share a
classpath (their logging stacks clash).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from streamrec.stack.errors import MissingToolError

JAR_SETS = ("kafka", "cassandra", "flink-connectors")
MIN_JAVA = 17


def java_binary() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home, "bin", "java") if java_home else None
    if candidate and candidate.exists():
        return str(candidate)
    found = shutil.which("java")
    if not found:
        raise MissingToolError(
            "Java not found: install a JDK 17+ (apt-get install openjdk-17-jdk-headless) "
            "or set JAVA_HOME"
        )
    return found


@functools.cache
def java_major_version(java: str) -> int:
    """Runs ``java -version`` once per binary: every JVM service asks when it builds its command."""
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise MissingToolError(f"could not read the Java version from `{java} -version`")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def require_java() -> str:
    java = java_binary()
    major = java_major_version(java)
    if major < MIN_JAVA:
        raise MissingToolError(
            f"Java {MIN_JAVA}+ is required but {java} is Java {major}: install "
            "openjdk-17-jdk-headless or point JAVA_HOME at a newer JDK"
        )
    return java


def pom_path(jar_set: str) -> Path:
    return Path(str(resources.files("streamrec.stack") / "maven" / f"{jar_set}.pom.xml"))


def jar_dir(jars_root: Path, jar_set: str) -> Path:
    return jars_root / jar_set


def is_resolved(jars_root: Path, jar_set: str) -> bool:
    directory = jar_dir(jars_root, jar_set)
    return (directory / ".resolved").exists() and any(directory.glob("*.jar"))


def resolve(jars_root: Path, jar_set: str, *, echo: bool = True) -> Path:
    """Copy ``jar_set``'s runtime dependencies from Maven into the cache (idempotent)."""
    directory = jar_dir(jars_root, jar_set)
    if is_resolved(jars_root, jar_set):
        return directory
    mvn = shutil.which("mvn")
    if not mvn:
        raise MissingToolError(
            "Maven not found: install it (apt-get install maven) or run scripts/bootstrap.sh"
        )
    if directory.exists():
        shutil.rmtree(directory)
    if echo:
        print(f"resolving {jar_set} jars from Maven Central into {directory} ...", flush=True)
    proc = subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom_path(jar_set)),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={directory}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        raise MissingToolError(
            f"Maven could not resolve the {jar_set} jars (pom {pom_path(jar_set)}); "
            f"check access to Maven Central:\n{tail}"
        )
    (directory / ".resolved").write_text("ok\n")
    return directory


def find_jar(directory: Path, prefix: str) -> Path:
    matches = sorted(p for p in directory.glob(f"{prefix}*.jar"))
    if not matches:
        raise MissingToolError(f"no {prefix}*.jar in {directory}; run `streamrec stack fetch`")
    return matches[0]
