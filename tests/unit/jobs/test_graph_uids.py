"""The job graph's operator uids: what a savepoint's state is mapped back to.

A savepoint restores without ``--allowNonRestoredState`` only if every stateful operator of
the previous release finds its uid again. The Table sinks' uids carry the plan's node
number (``2_sink``), which depends on translation order, so a query translated before them
(the trending one) would rename them; tests/integration/test_upgrade.py checks a real
savepoint, this checks the names in a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrec.stack import toolchain
from streamrec.stack.config import default_cache_dir

# The uids of the release before trending (589afc7 and later), with state in savepoints.
PREVIOUS_RELEASE_UIDS = {
    "events-source", "parse-events", "model-source", "model-as-control", "rules-source",
    "rules-as-control", "recommend", "1_external-datastream", "2_sink",
    "3_external-datastream", "4_sink",
}  # fmt: skip

# And those the trending and feedback release (0d1b54c) added: its SQL operators' state
# (windows, the feedback join) and sinks, which the hit-rate query must not renumber.
SIGNALS_RELEASE_UIDS = {
    "trending-source", "trending-as-control", "feedback-source", "feedback-as-control",
    "5_kafka", "9_local-window-aggregate", "11_global-window-aggregate", "14_window-rank",
    "16_local-window-aggregate", "18_global-window-aggregate", "20_sink", "23_kafka",
    "26_interval-join", "28_local-window-aggregate", "30_global-window-aggregate", "32_sink",
}  # fmt: skip


def stream_graph_uids(jars: list[Path], *args: str) -> set[str]:
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment

    from streamrec.jobs import recommend

    conf = Configuration()
    conf.set_string("pipeline.jars", ";".join(f"file://{jar}" for jar in jars))
    conf.set_string("python.execution-mode", "thread")
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    recommend.build(env, recommend.parse_config(["--bootstrap", "127.0.0.1:1", *args]))
    graph = env._j_stream_execution_environment.getStreamGraph(False)
    return {str(n.getTransformationUID()) for n in graph.getStreamNodes().toArray()}


def connector_jars() -> list[Path]:
    jars_root = default_cache_dir() / "jars"
    connectors = toolchain.jar_dir(jars_root, "flink-connectors")
    if not connectors.exists():
        pytest.skip("connector jars not resolved yet (scripts/bootstrap.sh resolves them)")
    return [*connectors.glob("*.jar"), toolchain.build_connectors(jars_root, echo=False)]


def test_the_previous_releases_operators_keep_their_uids() -> None:
    uids = stream_graph_uids(connector_jars())
    assert uids >= PREVIOUS_RELEASE_UIDS, f"renamed: {PREVIOUS_RELEASE_UIDS - uids}"
    assert uids >= SIGNALS_RELEASE_UIDS, f"renamed: {SIGNALS_RELEASE_UIDS - uids}"
    # Each later sink is translated after the earlier ones, so none renumbers another: the
    # hit-rate query, then the serving-features sink. (One graph per test process: the
    # planner numbers nodes JVM-wide, so a second build in the same JVM would be numbered
    # on from the first.)
    assert {"recommendation-rows", "serving-features-rows"} <= uids
    assert {u for u in uids if u.endswith("_sink") and "Committer" not in u} == {
        "2_sink", "4_sink", "20_sink", "32_sink", "43_sink", "45_sink",
    }  # fmt: skip
