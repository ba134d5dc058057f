"""Batching across users with keyed timers, without losing buffered events at a checkpoint.

The scoring operator is keyed by user, but TensorFlow must see many users per call. Each
event is written to the user's keyed ``pending`` state and a processing-time timer is
registered at the end of the current round (at most one tick after the event). Flink fires
every timer due at a tick in one uninterrupted pass (no checkpoint barrier can fall between
two timers of one pass), so the operator drains each user's pending state into an
in-memory batch as the timers fire and scores the whole batch at the last timer of the
pass. At any checkpoint the in-memory
batch is therefore empty: every event is either still in keyed state (and its timer in the
checkpoint) or already emitted. The added latency is at most one tick (plus the time the
task is busy scoring the previous batch).

``TimerRounds`` is the bookkeeping that recognises "the last timer of the pass": it
remembers which keys registered a timer for each tick. A timer it does not know (restored
from a checkpoint) ends its round at once, which is always safe, only less batched.

This relies on the timer being registered synchronously, which holds in thread mode. In
process mode registrations reach the JVM asynchronously and a pass may miss some, so the
job runs this operator in thread mode only.
"""

from __future__ import annotations


class TimerRounds:
    """Per round, the keys whose timers are due at its end and have not fired yet.

    A round opens with the first event after the previous round's end and ends
    ``tick_ms`` later; every key in it registers a timer for that same instant. Rounds are
    not aligned to the clock: with aligned ticks a batch that took 15 ms to score left
    5 ms of a 20 ms tick to collect the next one, so batches stayed small (12 events
    during a backlog, measured) however far behind the job was. Opened by the first event,
    a round always collects for the full ``tick_ms`` (docs/architecture.md, "The hot path").
    """

    def __init__(self, tick_ms: int, max_stretch_ms: int | None = None) -> None:
        if tick_ms <= 0:
            raise ValueError(f"tick_ms must be positive, got {tick_ms}")
        self.tick_ms = tick_ms
        self.max_stretch_ms = max_stretch_ms if max_stretch_ms is not None else 5 * tick_ms
        self._round_ms = tick_ms
        self._due: dict[int, set[object]] = {}
        self._open_until = 0

    def scored_in(self, elapsed_ms: float) -> None:
        """How long the last batch took to score: the next rounds last as long (at least a
        tick, at most ``max_stretch_ms``). While the task waits for a batch it reads no
        input, so a round shorter than a batch collects few events, and each batch pays
        the model call's fixed cost again; as long as one, rounds grow with the load until
        batches are large enough to keep up."""
        self._round_ms = int(min(max(self.tick_ms, elapsed_ms), self.max_stretch_ms))

    def schedule(self, key: object, now_ms: int) -> int | None:
        """The round's end to register a timer for, or None if ``key`` already has it."""
        if now_ms >= self._open_until:
            self._open_until = now_ms + self._round_ms
        tick = self._open_until
        keys = self._due.setdefault(tick, set())
        if key in keys:
            return None
        keys.add(key)
        return tick

    def owns(self, key: object, tick: int) -> bool:
        """Whether this instance registered ``key``'s timer at ``tick`` (not restored)."""
        keys = self._due.get(tick)
        return keys is not None and key in keys

    def fired(self, key: object, tick: int) -> bool:
        """Record that ``key``'s timer at ``tick`` fired; True if the batch must go now."""
        keys = self._due.get(tick)
        if keys is None or key not in keys:
            return True  # not ours (restored): flush rather than risk holding it
        keys.discard(key)
        if keys:
            return False
        del self._due[tick]
        return True

    @property
    def waiting(self) -> int:
        """Timers registered and not yet fired (a gauge for the dashboard)."""
        return sum(len(keys) for keys in self._due.values())
