import re

import click
import pytest
from click.testing import CliRunner

from streamrec.cli.main import cli
from streamrec.cli.model import model
from streamrec.model_package.artifact_fetch import ArtifactFetcher
from streamrec.model_package.signing import load_public_key, trusted_keys, verify, write_key_pair
from streamrec.state.features import default_spec as _real_spec


@pytest.fixture()
def movielens(tmp_path):
    """A small MovieLens-layout log: 60 users x 12 ratings over 60 days, two tastes."""
    lines = []
    for u in range(60):
        for n in range(12):
            item = (u % 2) * 30 + (u * 7 + n * 3) % 30
            lines.append(f"{u}\t{item}\t{1 + (u + n) % 5}\t{880000000 + (u * 12 + n) * 7200}")
    path = tmp_path / "u.data"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_promote_rollback_publish_on_movielens(tmp_path, movielens, monkeypatch) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("streamrec", artifact_location=str(tmp_path / "artifacts"))
    runner = CliRunner()
    base = ["--tracking-uri", uri, "--model-name", "ml"]
    for _ in range(2):
        out = runner.invoke(
            model,
            [
                "train",
                *base,
                "--movielens",
                str(movielens),
                "--epochs",
                "1",
                "--embedding-dim",
                "8",
            ],
        )
        assert out.exit_code == 0, out.output
    assert "registered ml version 2" in out.output
    assert runner.invoke(model, ["promote", *base, "--version", "1"]).exit_code == 0
    # A job whose state uses another half-life cannot feed version 2.
    from streamrec.state import features

    monkeypatch.setattr(
        features,
        "default_spec",
        lambda: features.FeatureSpec.from_dict(
            {**features.FeatureSpec.to_dict(_real_spec()), "half_life_ms": 1}
        ),
    )
    out = runner.invoke(model, ["promote", *base, "--version", "2"])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "refusing to promote" in out.output and "half_life_ms" in out.output
    out = runner.invoke(model, ["promote", *base, "--version", "2", "--force"])
    assert out.exit_code == 0 and "warning (forced)" in out.output
    monkeypatch.undo()

    published = []
    monkeypatch.setattr(
        "streamrec.model_registry.publisher.publish_reference",
        lambda ref, *a, **k: published.append(ref),
    )
    key = tmp_path / "keys" / "signing.pem"
    write_key_pair(key, tmp_path / "keys" / "public.pem")
    rollback = ["rollback", *base, "--bootstrap-servers", "k:9092"]
    out = runner.invoke(model, [*rollback, "--signing-key", str(tmp_path / "missing.pem")])
    assert out.exit_code == 1 and "cannot read key file" in out.output and not published
    out = runner.invoke(model, [*rollback, "--signing-key", str(key)])
    assert out.exit_code == 0, out.output
    assert "rolled back ml to version 1" in out.output and len(published) == 1
    # The reference names the registered artifact, signed by the given key.
    [reference] = published
    verify(reference, trusted_keys([load_public_key(tmp_path / "keys" / "public.pem")]))
    assert reference.version == "1" and reference.uri.startswith("file:///")
    assert ArtifactFetcher(tmp_path / "cache").fetch(reference)


def test_user_mistake_is_one_line(tmp_path, movielens) -> None:
    out = CliRunner().invoke(
        model,
        [
            "train",
            "--tracking-uri",
            "sqlite:///x.db",
            "--movielens",
            str(movielens),
            "--csv",
            str(movielens),
        ],
    )
    assert out.exit_code == 1 and out.output.strip().startswith("Error: give at most one")
    assert (
        isinstance(out.exception, SystemExit)
        or out.exception is None
        or isinstance(out.exception, click.ClickException)
    )


def test_evaluate_prints_both_protocols_and_logs_the_same_numbers(tmp_path, movielens) -> None:
    uri = f"sqlite:///{tmp_path / 'quality.db'}"
    args = ["--movielens", str(movielens), "--epochs", "1", "--tracking-uri", uri]
    out = CliRunner().invoke(cli, ["model", "evaluate", *args])
    assert out.exit_code == 0, out.output
    for protocol in ("temporal", "leave_last_5", "rolling_"):
        assert f"u.data / {protocol}" in out.output
    for method in ("model", "popularity", "recent_popularity", "cooccurrence"):
        assert f"| {method} |" in out.output
    import mlflow

    runs = mlflow.search_runs(experiment_names=["streamrec-quality"], output_format="list")
    names = sorted(r.info.run_name for r in runs)
    assert names[0] == "u.data/leave_last_5" and names[2] == "u.data/temporal"
    assert re.fullmatch(r"u\.data/rolling_[1-6]", names[1]), names
    temporal = next(r for r in runs if r.info.run_name == "u.data/temporal")
    row = next(line for line in out.output.splitlines() if line.startswith("| model |"))
    assert f"{temporal.data.metrics['recall_at_20']:.4f}" in row  # the printed model row
    assert {"pop_recall_at_20", "cooc_recall_at_20", "eval_users"} <= set(temporal.data.metrics)


def test_evaluate_without_a_log_says_what_to_give() -> None:
    out = CliRunner().invoke(cli, ["model", "evaluate", "--no-mlflow"])
    assert out.exit_code != 0 and "give a log" in out.output


def test_evaluate_rolling_pools_its_origins_and_reuses_the_temporal_split(tmp_path) -> None:
    # Users take turns (unlike the `movielens` fixture's one user after another), so every
    # origin's cut finds users with a past and a future.
    lines = [
        f"{u}\t{(u % 2) * 30 + (u * 7 + n * 2) % 30}\t4\t{880000000 + (n * 60 + u) * 600}"
        for n in range(12)
        for u in range(60)
    ]
    log = tmp_path / "u.data"
    log.write_text("\n".join(lines) + "\n")
    uri = f"sqlite:///{tmp_path / 'quality.db'}"
    args = ["model", "evaluate", "--movielens", str(log), "--epochs", "1", "--tracking-uri", uri]
    out = CliRunner().invoke(
        cli, [*args, "--protocol", "temporal", "--protocol", "rolling", "--origins", "2"]
    )
    assert out.exit_code == 0, out.output
    origins = [line for line in out.output.splitlines() if line.startswith("origin ")]
    assert [line.split(":")[0] for line in origins] == ["origin 0", "origin 1"]
    assert "u.data / rolling_2 (temporal, pooled over 2 origins):" in out.output
    import mlflow

    runs = mlflow.search_runs(experiment_names=["streamrec-quality"], output_format="list")
    by_name = {r.info.run_name: r.data.metrics for r in runs}
    assert sorted(by_name) == ["u.data/rolling_2", "u.data/temporal"]
    rolling, temporal = by_name["u.data/rolling_2"], by_name["u.data/temporal"]
    # Origin 0 is the temporal split itself, measured once.
    assert rolling["origin0_model_recall_at_20"] == temporal["recall_at_20"]
    assert rolling["origin0_eval_users"] == temporal["eval_users"]
    users = rolling["origin0_eval_users"] + rolling["origin1_eval_users"]
    assert rolling["eval_users"] == users and rolling["origin1_eval_users"] > 0
    pooled = (
        rolling["origin0_model_recall_at_20"] * rolling["origin0_eval_users"]
        + rolling["origin1_model_recall_at_20"] * rolling["origin1_eval_users"]
    ) / users
    assert abs(rolling["recall_at_20"] - pooled) < 1e-9
