"""The drain's model kinds (bench.catalog.settings)."""

import pytest

from streamrec.bench.catalog import MODEL_KINDS, settings


def test_each_kind_trains_its_own_model() -> None:
    configs = {kind: settings(10_000, kind)[1] for kind in MODEL_KINDS}
    assert configs["ranker"].use_ranker
    assert not configs["blend"].use_ranker and configs["blend"].transitions
    assert not configs["blend-no-transitions"].use_ranker
    assert not configs["blend-no-transitions"].transitions
    # Same world for all, so their traffic is the same.
    assert len({settings(10_000, kind)[0] for kind in MODEL_KINDS}) == 1
    with pytest.raises(ValueError, match="model kind"):
        settings(10_000, "ranker-less")
