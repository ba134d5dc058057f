import dataclasses

from streamrec.model_package.package import read_manifest
from streamrec.model_registry.promotion import promotion_problems
from streamrec.state.features import default_spec


def test_promotion_rules(package_bytes: bytes) -> None:
    cand = read_manifest(package_bytes)
    assert promotion_problems(cand, None, default_spec(), 0.05) == []
    strong = dataclasses.replace(
        cand,
        version="0",
        metrics={**cand.metrics, "recall_at_20": cand.metrics["recall_at_20"] * 2},
    )
    problems = promotion_problems(cand, strong, default_spec(), 0.05)
    assert len(problems) == 1 and "recall_at_20" in problems[0] and "margin" in problems[0]
    assert promotion_problems(cand, strong, default_spec(), 0.6) == []
    bad_spec = promotion_problems(cand, None, default_spec(half_life_ms=5), 0.05)
    assert bad_spec and "half_life_ms" in bad_spec[0]
