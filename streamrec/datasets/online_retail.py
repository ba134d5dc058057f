"""Make the UCI Online Retail files of ``catalog``: the whole log, and the test slice.

The whole log is joined from a per-day copy (one CSV per day, each with the header);
the slice keeps, unchanged, every line of a few hundred customers inside a time window.
Customers are taken in the order of the sha256 of their id (a fixed pseudo-random
order, not the file's), skipping those with fewer than ``min_invoices`` invoices in the
window (they could never be evaluated: nothing before and after a cut) or more than
``max_lines`` lines (a wholesaler's thousand lines would be most of a small slice).

    python -m streamrec.datasets.online_retail join DAY_DIR online-retail.csv
    python -m streamrec.datasets.online_retail slice online-retail.csv slice.csv
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from streamrec.model_registry.errors import DataError
from streamrec.model_registry.loaders import ONLINE_RETAIL_COLUMNS, retail_ts

HEADER = ",".join(ONLINE_RETAIL_COLUMNS)


@dataclass(frozen=True)
class SliceSpec:
    start: str = "2011-10-01 00:00:00"
    """Window start (inclusive), as the log writes InvoiceDate."""
    end: str = "2011-12-10 00:00:00"
    """Window end (exclusive)."""
    customers: int = 250
    min_invoices: int = 3
    max_lines: int = 40


def join_days(day_files: Sequence[Path], out: Path) -> int:
    """Concatenate per-day CSVs (sorted by name, i.e. by date) under one header."""
    rows = 0
    with open(out, "w", encoding="utf-8", newline="") as sink:
        sink.write(HEADER + "\n")
        for day in sorted(day_files, key=lambda p: p.name):
            with open(day, encoding="utf-8") as fh:
                if fh.readline().rstrip("\r\n") != HEADER:
                    raise DataError(f"{day}: the first line is not {HEADER!r}")
                for line in fh:
                    sink.write(line)
                    rows += 1
    return rows


def cut_slice(full: Path, out: Path, spec: SliceSpec = SliceSpec()) -> tuple[int, int]:
    """Write the slice of ``full`` that ``spec`` describes; returns (customers, lines)."""
    start, end = retail_ts(spec.start), retail_ts(spec.end)
    lines: dict[str, list[tuple[int, str]]] = defaultdict(list)
    invoices: dict[str, set[str]] = defaultdict(set)
    with open(full, encoding="utf-8", newline="") as fh:
        header = fh.readline()
        if header.rstrip("\r\n") != HEADER:
            raise DataError(f"{full}: the first line is not {HEADER!r}")
        for pos, line in enumerate(fh):
            [row] = csv.reader([line])
            customer = row[6].strip().removesuffix(".0")  # as the loader reads it
            if customer and start <= retail_ts(row[4]) < end:
                lines[customer].append((pos, line))
                invoices[customer].add(row[0])
    chosen = [
        c
        for c in sorted(lines, key=lambda c: hashlib.sha256(c.encode()).hexdigest())
        if len(invoices[c]) >= spec.min_invoices and len(lines[c]) <= spec.max_lines
    ][: spec.customers]
    kept = sorted(entry for c in chosen for entry in lines[c])
    with open(out, "w", encoding="utf-8", newline="") as sink:
        sink.write(header)
        sink.writelines(line for _, line in kept)
    return len(chosen), len(kept)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    join = commands.add_parser("join", help="per-day CSVs -> the whole log")
    join.add_argument("day_dir", type=Path)
    join.add_argument("out", type=Path)
    cut = commands.add_parser("slice", help="the whole log -> the test slice")
    cut.add_argument("full", type=Path)
    cut.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "join":
        rows = join_days(list(args.day_dir.glob("*.csv")), args.out)
        print(f"{rows} rows -> {args.out}")
    else:
        customers, kept = cut_slice(args.full, args.out)
        print(f"{customers} customers, {kept} lines -> {args.out}")


if __name__ == "__main__":
    main()
