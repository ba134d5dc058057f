import hashlib

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
    known = "movielens-small, online-retail, online-retail-slice, taobao"
    with pytest.raises(DataError, match=f"known: {known}"):
        catalog.load_log("ml-100k", tmp_path)
