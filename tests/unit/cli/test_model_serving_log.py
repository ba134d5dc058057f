"""``streamrec model train --serving-log``: trains on a logged file, says what it skipped
and which model versions served it, and refuses a second data source."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from streamrec.cli.model import model
from streamrec.contracts.event import Event
from streamrec.contracts.recommendation import Recommendation
from streamrec.scoring.serving_log import feature_records
from streamrec.state.features import UserFeatures, default_spec, empty, update

CATEGORY_OF = {f"i{n}": f"c{n % 3}" for n in range(30)}


def write_log(path: Path) -> int:
    """40 users x 10 views, as the job would log them; returns the record count."""
    events = sorted(
        (
            Event(f"u{u}-{n}", f"u{u}", f"i{(u * 7 + n * 3) % 30}", "view", 10_000 * n + u)
            for u in range(40)
            for n in range(10)
        ),
        key=lambda e: e.ts,
    )
    states: dict[str, UserFeatures] = {}
    after = []
    for e in events:
        states[e.user_id] = update(states.get(e.user_id, empty()), e, CATEGORY_OF)
        after.append(states[e.user_id])
    recs = [Recommendation(e.event_id, e.user_id, [], "3", "m", None, e.ts, e.ts + 1)
            for e in events]  # fmt: skip
    values = feature_records(recs, events, after, default_spec(), 1.0).values
    path.write_text("{cut off\n" + "\n".join(values) + "\n")
    return len(values)


def test_train_on_a_serving_log(tmp_path: Path) -> None:
    records = write_log(tmp_path / "served.jsonl")
    items = tmp_path / "items.csv"
    items.write_text("item_id,category\n" + "".join(f"{i},{c}\n" for i, c in CATEGORY_OF.items()))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("streamrec", artifact_location=str(tmp_path / "artifacts"))
    out = CliRunner().invoke(
        model,
        ["train", "--tracking-uri", uri, "--model-name", "logged", "--serving-log",
         str(tmp_path / "served.jsonl"), "--items", str(items), "--epochs", "1",
         "--embedding-dim", "8", "--no-engaged-history"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "skipped 1 bad lines: bad_json: 1 (first at line 1)" in out.output
    # 40 users x 9 pairs (state after event n, item of event n + 1).
    assert f"serving log: {records} records (model versions 3: {records}), 360 examples" in (
        out.output
    )
    assert "registered logged version 1" in out.output
    run = mlflow.search_runs(experiment_names=["streamrec"]).iloc[0]
    assert run["metrics.serving_log_examples"] == 360.0


def test_a_serving_log_is_the_only_source(tmp_path: Path) -> None:
    write_log(tmp_path / "served.jsonl")
    out = CliRunner().invoke(
        model,
        ["train", "--tracking-uri", "sqlite:///x.db", "--serving-log",
         str(tmp_path / "served.jsonl"), "--events", str(tmp_path / "served.jsonl")],
    )  # fmt: skip
    assert out.exit_code == 1
    assert out.output.strip() == "Error: --serving-log is a data source: give no other"
