from __future__ import annotations

import pytest

from streamrec.udfs.timer_rounds import TimerRounds


def test_a_round_ends_at_its_last_registered_key() -> None:
    rounds = TimerRounds(20)
    assert rounds.schedule("a", 1005) == 1025
    assert rounds.schedule("b", 1024) == 1025
    assert rounds.schedule("a", 1010) is None  # same key, same round: one timer
    assert rounds.waiting == 2
    assert rounds.fired("a", 1025) is False
    assert rounds.fired("b", 1025) is True
    assert rounds.waiting == 0


def test_a_round_opens_with_the_first_event_after_the_last_one_ended() -> None:
    """Not clock-aligned: after a slow batch the next round still collects a full tick."""
    rounds = TimerRounds(20)
    assert rounds.schedule("a", 1000) == 1020
    assert rounds.schedule("a", 1020) == 1040  # the first round is over at 1020
    assert rounds.schedule("b", 1021) == 1040
    assert rounds.schedule("c", 1093) == 1113  # after a 50 ms batch: a full round again
    assert rounds.fired("a", 1020) is True
    assert rounds.fired("a", 1040) is False
    assert rounds.fired("b", 1040) is True


def test_an_unknown_timer_flushes_at_once() -> None:
    """Timers restored from a checkpoint were never scheduled by this instance."""
    rounds = TimerRounds(20)
    rounds.schedule("a", 1000)
    assert rounds.fired("restored", 1020) is True
    assert rounds.fired("a", 900) is True


def test_tick_must_be_positive() -> None:
    with pytest.raises(ValueError, match="tick_ms"):
        TimerRounds(0)
