import numpy as np

from streamrec.scoring.codes import find


def test_find_locates_each_users_rows_and_misses_padding_and_other_users_rows() -> None:
    n_items = 10
    # user 0 holds rows 2 and 7, user 1 holds row 3.
    codes = np.array([2, 7, 13], dtype=np.int64)
    candidates = np.array([[7, 3, -1], [3, 2, 0]], dtype=np.int64)
    at, found = find(codes, n_items, candidates)
    assert found.tolist() == [True, False, False, True, False, False]
    assert codes[at[found]].tolist() == [7, 13]
