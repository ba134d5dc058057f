import pytest

from streamrec.model_registry.errors import DataError
from streamrec.model_registry.loaders import (
    CsvMapping,
    load_csv,
    load_movielens,
    load_movielens_items,
)


def test_movielens_sorted_with_ratings_mapped(tmp_path) -> None:
    path = tmp_path / "u.data"
    path.write_text("196\t242\t3\t881250949\n186\t302\t5\t881250000\n22\t377\t1\t881250949\n")
    events = load_movielens(path)
    assert [e.ts for e in events] == [881250000000, 881250949000, 881250949000]
    assert [(e.user_id, e.item_id, e.type) for e in events] == [
        ("186", "302", "purchase"),
        ("196", "242", "click"),
        ("22", "377", "view"),
    ]


def test_movielens_bad_line_names_file_and_line(tmp_path) -> None:
    path = tmp_path / "u.data"
    path.write_text("1\t2\t3\t4\nbroken line\n")
    with pytest.raises(DataError, match=r"u.data:2"):
        load_movielens(path)


def test_movielens_items_first_genre(tmp_path) -> None:
    path = tmp_path / "u.item"
    flags = ["0"] * 19
    flags[5] = flags[8] = "1"
    path.write_text("1|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join(flags) + "\n")
    assert load_movielens_items(path) == {"1": "Comedy"}


def test_csv_with_mapping(tmp_path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(
        "uid,sku,when,stars\na,x,2024-01-02T00:00:00+00:00,4\nb,y,2024-01-01T00:00:00+00:00,2\n"
    )
    events = load_csv(
        path, CsvMapping(user="uid", item="sku", ts="when", rating="stars", ts_unit="iso")
    )
    assert [(e.user_id, e.type) for e in events] == [("b", "view"), ("a", "add")]
    assert events[0].ts == 1_704_067_200_000
    with pytest.raises(DataError, match="not in header"):
        load_csv(path, CsvMapping(user="user"))
