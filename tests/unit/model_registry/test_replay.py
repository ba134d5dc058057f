import json
import time

from streamrec.contracts.event import Event
from streamrec.model_registry.replay import (
    live_copies,
    records_from_events,
    records_stamped_at_send,
    replay,
    with_categories,
)


class Producer:
    def __init__(self, config: dict) -> None:
        self.sent: list[tuple] = []

    def produce(self, topic, key, value) -> None:
        self.sent.append((topic, key, value))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return 0


def test_rate_limit_and_order() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    made: list[Producer] = []
    events = [Event(str(i), f"u{i}", "i", "view", i) for i in range(10)]
    sent = replay(
        records_from_events(events),
        "k",
        "events",
        rate_per_s=5.0,
        progress=lambda m: None,
        producer_factory=lambda c: made.append(Producer(c)) or made[-1],
        clock=lambda: now[0],
        sleep=sleep,
    )
    assert sent == 10
    assert [v for _, _, v in made[0].sent] == [e.to_json().encode() for e in events]
    assert now[0] == 2.0  # 10 records at 5/s take 2 s of (fake) time


def test_live_copies_get_fresh_ids_and_the_send_time() -> None:
    events = live_copies(
        [Event("old", "u1", "i1", "view", 5), Event("old", "u2", None, "request", 6)], "run"
    )
    assert [e["event_id"] for e in events] == ["run-0", "run-1"]
    assert all("ts" not in e for e in events)
    before = int(time.time() * 1000)
    key, value = next(records_stamped_at_send(events))
    assert key == b"u1"
    assert json.loads(value)["ts"] == events[0]["ts"] >= before
    assert "ts" not in events[1]  # stamped only when taken, not ahead of time


def test_shifted_keeps_the_gaps_and_ends_at_the_given_time() -> None:
    from streamrec.contracts.event import Event
    from streamrec.model_registry.replay import shifted

    log = [Event("a", "u", "i", "view", 1_000), Event("b", "u", "j", "add", 4_000)]
    moved = list(shifted(log, 1_700_000_000_000))
    assert [e.ts for e in moved] == [1_699_999_997_000, 1_700_000_000_000]
    assert [(e.event_id, e.item_id, e.type) for e in moved] == [
        ("a", "i", "view"),
        ("b", "j", "add"),
    ]
    assert list(shifted([], 5)) == []


def test_model_replay_sends_a_log_in_time_order(tmp_path, monkeypatch) -> None:
    import json

    from click.testing import CliRunner

    from streamrec.cli.model import model
    from streamrec.model_registry import replay as producer

    sent: list[tuple[bytes | None, bytes]] = []
    monkeypatch.setattr(
        producer, "replay", lambda records, *args, **kwargs: sent.extend(records) or len(sent)
    )
    path = tmp_path / "u.data"
    path.write_text("2\t20\t5\t300\n1\t10\t3\t100\n")
    out = CliRunner().invoke(
        model, ["replay", "--movielens", str(path), "--original-ts", "--bootstrap-servers", "x:1"]
    )
    assert out.exit_code == 0, out.output
    assert [(k, json.loads(v)["ts"]) for k, v in sent] == [(b"1", 100_000), (b"2", 300_000)]


def test_replayed_events_carry_their_items_category_unless_they_have_one() -> None:
    events = [
        Event("e1", "u1", "i1", "view", 1_000),
        Event("e2", "u1", "i2", "view", 2_000, {"category": "own"}),
        Event("e3", "u1", None, "request", 3_000),
        Event("e4", "u1", "i9", "view", 4_000),
    ]
    out = list(with_categories(events, {"i1": "films", "i2": "books"}))
    assert [e.context.get("category") for e in out] == ["films", "own", None, None]
