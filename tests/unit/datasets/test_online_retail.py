from pathlib import Path

import pytest

from streamrec.datasets import catalog
from streamrec.datasets.online_retail import HEADER, SliceSpec, cut_slice, join_days
from streamrec.model_registry.errors import DataError
from streamrec.model_registry.loaders import load_online_retail

SLICE_DIR = Path(__file__).parents[2] / "data" / "online-retail"

LINES = [
    "536365,85123A,WHITE HEART HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
    "536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,17850,United Kingdom",
    "C536379,85123A,WHITE HEART HOLDER,-1,2010-12-01 09:41:00,2.55,17850.0,United Kingdom",
    "536370,POST,POSTAGE,3,2010-12-01 08:45:00,18.0,12583.0,France",
    "536414,22139,RETROSPOT TEA SET,56,2010-12-01 11:52:00,0.0,,United Kingdom",
    '536371,22086,"PAPER CHAIN KIT, CHRISTMAS",80,2010-12-01 09:00:00,2.55,13748.0,United Kingdom',
]  # fmt: skip


def test_online_retail_keeps_customers_product_purchases_in_time_order(tmp_path) -> None:
    path = tmp_path / "retail.csv"
    path.write_text(HEADER + "\n" + "\n".join(LINES) + "\n")
    events, categories, dropped = load_online_retail(path)
    assert [(e.user_id, e.item_id, e.type) for e in events] == [
        ("17850", "85123A", "purchase"),
        ("17850", "22633", "purchase"),
        ("13748", "22086", "purchase"),
    ]
    # Both date layouts of the public copies; UK clock times taken as UTC.
    assert [e.ts for e in events] == [1291191960000, 1291192080000, 1291194000000]
    assert categories == {"85123A": "851", "22633": "226", "22086": "220"}
    assert dropped == 3  # the cancellation, the postage line, the line without a customer


def test_online_retail_refuses_another_layout(tmp_path) -> None:
    path = tmp_path / "retail.csv"
    path.write_text("user,item,ts\n1,2,3\n")
    with pytest.raises(DataError, match="expected columns"):
        load_online_retail(path)


def test_join_and_slice_keep_lines_unchanged(tmp_path) -> None:
    days = tmp_path / "days"
    days.mkdir()
    (days / "2010-12-02.csv").write_text(HEADER + "\n" + LINES[5] + "\n")
    (days / "2010-12-01.csv").write_text(HEADER + "\n" + "\n".join(LINES[:5]) + "\n")
    full = tmp_path / "full.csv"
    assert join_days(list(days.glob("*.csv")), full) == 6
    assert full.read_text().splitlines() == [HEADER, *LINES]

    out = tmp_path / "slice.csv"
    spec = SliceSpec(start="2010-12-01 00:00:00", end="2010-12-02 00:00:00", min_invoices=2)
    # 17850 has three invoices; 12583 and 13748 one each.
    assert cut_slice(full, out, spec) == (1, 3)
    assert out.read_text().splitlines() == [HEADER, *LINES[:3]]


def test_the_committed_slice_is_the_catalogued_one() -> None:
    if not (SLICE_DIR / "online-retail-slice.csv").is_file():
        pytest.skip(f"no slice in {SLICE_DIR}")
    events, categories = catalog.load_log("online-retail-slice", SLICE_DIR)
    assert len({e.user_id for e in events}) == 239 and len(events) == 5345
    assert set(categories) == {e.item_id for e in events}
