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


def test_taobao_maps_behaviours_drops_stray_times_and_a_cut_last_row(tmp_path) -> None:
    from streamrec.model_registry.loaders import load_taobao_behavior

    path = tmp_path / "UserBehavior.csv"
    path.write_text("1,10,7,pv,200\n1,11,7,cart,100\n2,10,7,buy,5\n2,12,8,fav,150\n2,13,8,p")
    events, categories, dropped = load_taobao_behavior(path, (50_000, 1_000_000))
    assert [(e.user_id, e.item_id, e.type, e.ts) for e in events] == [
        ("1", "11", "add", 100_000),
        ("2", "12", "click", 150_000),
        ("1", "10", "view", 200_000),
    ]
    assert categories == {"10": "7", "11": "7", "12": "8"}
    assert dropped == 2  # ts 5 s is outside the window; the last row has no newline


def test_taobao_bad_behaviour_names_the_line(tmp_path) -> None:
    from streamrec.model_registry.loaders import load_taobao_behavior

    path = tmp_path / "UserBehavior.csv"
    path.write_text("1,10,7,pv,200\n1,11,7,like,100\n")
    with pytest.raises(DataError, match=r"UserBehavior.csv:2"):
        load_taobao_behavior(path)


def test_movielens_csv_ratings_and_first_genre(tmp_path) -> None:
    from streamrec.model_registry.loaders import load_movielens_csv, load_movielens_movies_csv

    ratings = tmp_path / "ratings.csv"
    ratings.write_text("userId,movieId,rating,timestamp\n1,5,4.5,20\n2,6,0.5,10\n")
    movies = tmp_path / "movies.csv"
    movies.write_text('movieId,title,genres\n5,"A, The (1999)",Drama|War\n6,B,(no genres listed)\n')
    assert [(e.user_id, e.item_id, e.type, e.ts) for e in load_movielens_csv(ratings)] == [
        ("2", "6", "view", 10_000),
        ("1", "5", "add", 20_000),
    ]
    assert load_movielens_movies_csv(movies) == {"5": "Drama", "6": "unknown"}


def test_dslabs_movielens_pickle_sorted_with_first_genres(tmp_path) -> None:
    import pandas as pd

    from streamrec.model_registry.loaders import load_dslabs_movielens

    frame = pd.DataFrame(
        {
            "movieId": [31, 1029, 7],
            "title": ["a", "b", None],
            "genres": ["Drama", "Animation|Children", "(no genres listed)"],
            "userId": [1, 1, 2],
            "rating": [2.5, 5.0, 0.5],
            "timestamp": [1260759144, 1260759100, 1260759144],
        }
    )
    path = tmp_path / "movielens.pkl.compress"
    frame.to_pickle(path, compression="xz")
    events, categories = load_dslabs_movielens(path)
    assert [(e.user_id, e.item_id, e.type, e.ts) for e in events] == [
        ("1", "1029", "purchase", 1260759100000),
        ("1", "31", "view", 1260759144000),
        ("2", "7", "view", 1260759144000),
    ]
    assert categories == {"31": "Drama", "1029": "Animation", "7": "unknown"}


def test_dslabs_movielens_without_rating_column_is_refused(tmp_path) -> None:
    import pandas as pd

    from streamrec.model_registry.loaders import load_dslabs_movielens

    path = tmp_path / "movielens.pkl.compress"
    pd.DataFrame({"movieId": [1], "genres": ["Drama"], "userId": [1], "timestamp": [1]}).to_pickle(
        path, compression="xz"
    )
    with pytest.raises(DataError, match="rating"):
        load_dslabs_movielens(path)
