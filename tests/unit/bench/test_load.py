import pytest

from streamrec.bench import load
from streamrec.bench.load import PhaseLoads, describe


def test_describe_gives_the_three_averages() -> None:
    assert describe((1.5, 0.25, 0.0)) == "load 1.50/0.25/0.00"


def test_each_phase_records_the_load_at_its_start_and_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    samples = iter([(1.0, 1.0, 1.0), (2.0, 1.5, 1.0), (3.0, 2.0, 1.0), (0.5, 1.0, 1.0)])
    monkeypatch.setattr(load.os, "getloadavg", lambda: next(samples))
    loads = PhaseLoads()
    assert loads.start("probe") == "load 1.00/1.00/1.00"
    assert loads.end("probe") == "load 2.00/1.50/1.00"
    loads.start("capacity")
    loads.end("capacity")
    assert loads.records == [
        {"phase": "probe", "start": (1.0, 1.0, 1.0), "end": (2.0, 1.5, 1.0)},
        {"phase": "capacity", "start": (3.0, 2.0, 1.0), "end": (0.5, 1.0, 1.0)},
    ]


def test_ending_a_phase_that_never_started_says_which_did() -> None:
    loads = PhaseLoads()
    loads.start("probe")
    with pytest.raises(ValueError, match=r"'capacity' ended but never started.*\['probe'\]"):
        loads.end("capacity")
