"""Java and Maven: find them, check them, and resolve the stack's jars.

Jars come from Maven Central through the poms in ``streamrec/stack/maven/``;
each pom resolves into its own directory so Kafka and Cassandra never share a
classpath (their logging stacks clash). streamrec's own Flink classes
(``jvm/streamrec-connectors``) are built here too, with Maven, from the checkout.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from streamrec.stack.errors import MissingToolError

JAR_SETS = ("kafka", "cassandra", "flink-connectors", "flink-metrics")
MIN_JAVA = 17
CONNECTORS = "streamrec-connectors"


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


def connectors_module() -> Path:
    """The checkout's ``jvm/streamrec-connectors`` Maven module (override: STREAMREC_JVM_DIR)."""
    override = os.environ.get("STREAMREC_JVM_DIR")
    module = (
        Path(override) if override else Path(__file__).resolve().parents[2] / "jvm" / CONNECTORS
    )
    if not (module / "pom.xml").exists():
        raise MissingToolError(
            f"streamrec's JVM sources not found at {module}: run from a streamrec checkout "
            "or set STREAMREC_JVM_DIR to jvm/streamrec-connectors"
        )
    return module


def sources_digest(module: Path) -> str:
    """A digest of the module's pom and sources: the built jar is named by it."""
    digest = hashlib.sha256()
    files = [module / "pom.xml", *sorted(p for p in (module / "src").rglob("*") if p.is_file())]
    for path in files:
        digest.update(str(path.relative_to(module)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def connectors_jar(jars_root: Path, module: Path | None = None) -> Path:
    """Where the jar built from the module's current sources lives (it may not exist yet)."""
    digest = sources_digest(module or connectors_module())
    return jar_dir(jars_root, CONNECTORS) / f"{CONNECTORS}-{digest}.jar"


def build_connectors(jars_root: Path, *, echo: bool = True, module: Path | None = None) -> Path:
    """Build ``jvm/streamrec-connectors`` with Maven unless a jar of these sources exists.

    The jar goes into the shared jar cache under a name that carries the sources'
    digest, so an edit triggers one rebuild, an unchanged checkout none, and
    checkouts at different commits never overwrite each other's jar.
    """
    module = module or connectors_module()
    jar = connectors_jar(jars_root, module)
    if jar.exists():
        return jar
    mvn = shutil.which("mvn")
    if not mvn:
        raise MissingToolError(
            "Maven not found: install it (apt-get install maven) or run scripts/bootstrap.sh"
        )
    jar.parent.mkdir(parents=True, exist_ok=True)
    if echo:
        print(f"building {CONNECTORS} with Maven into {jar} ...", flush=True)
    # A private build dir: two stacks starting at once must not share Maven's output.
    with tempfile.TemporaryDirectory(prefix="build-", dir=jar.parent) as build_dir:
        proc = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "-f",
                str(module / "pom.xml"),
                "package",
                f"-Dstreamrec.build.dir={build_dir}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        built = Path(build_dir) / f"{CONNECTORS}.jar"
        if proc.returncode != 0 or not built.exists():
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
            raise MissingToolError(
                f"Maven could not build {module} (exit {proc.returncode}); check the Java "
                f"sources and access to Maven Central:\n{tail}"
            )
        # Renamed into place so a concurrent reader never sees half a jar.
        os.replace(built, jar)
    return jar


if __name__ == "__main__":
    # `python -m streamrec.stack.toolchain`: build the connectors jar (scripts/bootstrap.sh).
    from streamrec.stack.config import default_cache_dir

    print(f"{CONNECTORS}: {build_connectors(default_cache_dir() / 'jars')}")
