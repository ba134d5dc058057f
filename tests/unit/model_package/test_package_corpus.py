"""Every bad package in tests/corpus/packages is rejected with its error, quickly and
without allocating what it declares."""

import contextlib
import time
import tracemalloc

import pytest

from streamrec.model_package import errors
from streamrec.model_package.errors import PackageError
from streamrec.model_package.package import load_package, read_manifest
from streamrec.state.features import default_spec
from tests.corpus.packages import BadPackage, bad_packages

# Far below what any of them declares (600 MiB members, 10^12-float arrays).
MAX_TRACED_BYTES = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def corpus(package_bytes: bytes) -> list[BadPackage]:
    return bad_packages(package_bytes)


def _outcome(case: BadPackage) -> tuple[str, float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        load_package(case.package, default_spec())
        name = "loaded"
    except PackageError as ex:
        name = type(ex).__name__
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return name, elapsed, peak


def test_corpus_has_many_kinds(corpus: list[BadPackage]) -> None:
    assert len(corpus) >= 12
    assert len({c.name for c in corpus}) == len(corpus)
    for case in corpus:
        assert issubclass(getattr(errors, case.expected_error), PackageError), case.name


def test_every_bad_package_is_rejected_with_its_error(corpus: list[BadPackage]) -> None:
    wrong, slow, hungry = {}, {}, {}
    for case in corpus:
        got, elapsed, peak = _outcome(case)
        if got != case.expected_error:
            wrong[case.name] = (got, case.expected_error)
        if elapsed > 2.0:
            slow[case.name] = round(elapsed, 2)
        if peak > MAX_TRACED_BYTES + 2 * len(case.package):
            hungry[case.name] = peak
    assert not wrong, f"(got, expected): {wrong}"
    assert not slow, f"seconds: {slow}"
    assert not hungry, f"peak traced bytes: {hungry}"


def test_read_manifest_rejects_with_package_errors_only(corpus: list[BadPackage]) -> None:
    for case in corpus:
        with contextlib.suppress(PackageError):
            read_manifest(case.package)
