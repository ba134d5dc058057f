"""Read the Flink cluster's Prometheus endpoints, as a Prometheus server would.

The JobManager and the TaskManager each serve ``/metrics`` on one of the two ports from
``StackConfig.flink_metrics_port`` (Flink's reporter takes the first free one of a range).
"""

from __future__ import annotations

import logging
import re

import requests

from streamrec.stack.config import HOST, StackConfig

log = logging.getLogger(__name__)
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)")


def flink_metrics_urls(config: StackConfig) -> list[str]:
    first = config.flink_metrics_port
    return [f"http://{HOST}:{port}/metrics" for port in (first, first + 1)]


def scrape(config: StackConfig, timeout_s: float = 30.0) -> str:
    """The exposition text of every endpoint that answers (empty if none does).

    A TaskManager running a job serves thousands of samples (every SQL operator's), which
    took seconds under load: hence the generous timeout."""
    texts = []
    for url in flink_metrics_urls(config):
        try:
            response = requests.get(url, timeout=timeout_s)
        except requests.RequestException as ex:
            log.warning("no metrics from %s: %s", url, ex)
            continue
        if response.ok:
            texts.append(response.text)
    return "\n".join(texts)


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of metric ``name``: (labels, value)."""
    out = []
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match is None or match["name"] != name:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match["labels"] or ""))
        out.append((labels, float(match["value"])))
    return out
