from streamrec.contracts.event import Event
from streamrec.model_registry.replay import records_from_events, replay


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
