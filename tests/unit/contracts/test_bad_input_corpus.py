"""Every case of the bad-input corpus (tests/corpus) is refused with its exact reason."""

from __future__ import annotations

import pytest

from streamrec.contracts.errors import EVENT_REASONS, RULES_REASONS, InvalidRulesError
from streamrec.contracts.rules import parse_rules
from streamrec.udfs.parse_events import DeadLetter, parse_or_dead_letter
from tests.corpus import CorpusCase, load_event_corpus, load_rules_corpus

NOW = 1_800_000_000_000
EVENTS = load_event_corpus(NOW, marker="unit-test")
RULES = load_rules_corpus()


def test_the_corpora_are_big_enough_and_unambiguous() -> None:
    assert len(EVENTS) >= 25 and len(RULES) >= 6
    assert {c.reason for c in EVENTS} <= set(EVENT_REASONS) - {"internal_error"}
    assert {c.reason for c in RULES} <= set(RULES_REASONS) - {"invalid"}
    # The integration test matches dead letters to cases by their bytes.
    assert len({c.raw for c in EVENTS}) == len(EVENTS)
    # Every placeholder was substituted (the gzip case holds a cut-off one, on purpose).
    assert all(b"__" not in c.raw or c.name == "gzip_bytes.bin" for c in EVENTS)


def test_the_issues_own_examples_are_in_the_corpus() -> None:
    by_name = {c.name: c for c in EVENTS}
    deep = by_name["deep_nesting_20000.json"].raw
    assert deep.count(b"[") == 20_000 and 39_000 < len(deep) < 64 * 1024
    assert str(NOW + 23 * 3_600_000).encode() in by_name["ts_future_23h.json"].raw
    assert any(b"1e400" in c.raw for c in RULES)


@pytest.mark.parametrize("case", EVENTS, ids=lambda c: c.name)
def test_every_bad_event_is_dead_lettered_with_its_reason(case: CorpusCase) -> None:
    out = parse_or_dead_letter(case.raw, "events", NOW)
    assert isinstance(out, DeadLetter)
    assert out.reason == case.reason


@pytest.mark.parametrize("case", RULES, ids=lambda c: c.name)
def test_every_bad_rule_set_is_refused_with_its_reason(case: CorpusCase) -> None:
    with pytest.raises(InvalidRulesError) as info:
        parse_rules(case.raw)
    assert info.value.reason == case.reason


def test_the_marker_is_validated() -> None:
    with pytest.raises(ValueError):
        load_event_corpus(NOW, marker='x"y')
