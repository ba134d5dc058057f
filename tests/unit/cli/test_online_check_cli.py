from click.testing import CliRunner

from streamrec.cli.main import cli
from streamrec.contracts.event import Event
from streamrec.datasets import catalog

DAY_MS = 86_400_000


def test_a_past_older_than_the_jobs_event_age_bound_is_refused_first(tmp_path, monkeypatch):
    # 20 users, one purchase a day for 40 days: the past (days 0-33) spans 33.
    events = [
        Event(f"e{d}-{u}", f"u{u}", f"i{(u + d) % 7}", "purchase", 1_600_000_000_000 + d * DAY_MS)
        for d in range(40)
        for u in range(20)
    ]
    loaded: list[str] = []

    def fake_load(name, root):
        loaded.append(name)
        return events, {f"i{n}": "c" for n in range(7)}

    monkeypatch.setattr(catalog, "load_log", fake_load)
    result = CliRunner().invoke(
        cli,
        ["model", "online-check", "--log", "online-retail", "--data-dir", str(tmp_path),
         "--max-event-age-days", "30", "--bootstrap-servers", "127.0.0.1:9",
         "--tracking-uri", f"sqlite:///{tmp_path / 'never.db'}"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "the past spans 33 days" in result.output and "--max-event-age-days 30" in result.output
    assert loaded == ["online-retail"]
    assert not (tmp_path / "never.db").exists()  # nothing trained or registered
