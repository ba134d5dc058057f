"""The optional Prometheus service: its scrape config, loopback address and install hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrec.stack.config import StackConfig
from streamrec.stack.errors import StackError
from streamrec.stack.launcher import DEFAULT_SERVICES, select
from streamrec.stack.services import prometheus as service


def config(tmp_path: Path) -> StackConfig:
    return StackConfig(
        data_dir=tmp_path, cache_dir=tmp_path, flink_metrics_port=9400, prometheus_port=9401
    )


def test_it_scrapes_both_flink_reporters_and_listens_on_loopback(tmp_path: Path) -> None:
    prom = service.PrometheusService(config(tmp_path))
    text = prom.config_text()
    assert "targets: ['127.0.0.1:9400', '127.0.0.1:9401']" in text
    [spec] = prom.processes()
    assert "--web.listen-address=127.0.0.1:9401" in spec.args
    assert any(a.startswith("--storage.tsdb.path=") for a in spec.args)


def test_a_plain_up_leaves_it_off_and_naming_it_starts_it() -> None:
    assert "prometheus" not in DEFAULT_SERVICES
    assert select(None, DEFAULT_SERVICES) == list(DEFAULT_SERVICES)
    assert select(["prometheus"], DEFAULT_SERVICES) == ["prometheus"]
    assert "prometheus" in select(None)  # down and status cover it


def test_a_missing_binary_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.shutil, "which", lambda _: None)
    monkeypatch.setattr(service, "Path", lambda _: tmp_path / "absent")
    with pytest.raises(StackError, match="apt-get install prometheus"):
        service.PrometheusService(config(tmp_path)).prepare()
