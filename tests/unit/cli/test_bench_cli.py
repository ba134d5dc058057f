"""``streamrec bench`` writes its progress, load averages included, to bench.log too."""

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from streamrec.cli import bench as bench_cli


def test_progress_lines_go_to_bench_log_beside_the_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def run_benchmark(config: Any, options: Any, out: Path, progress: Any) -> dict:
        seen["options"] = options
        progress("a phase line (load 0.50/0.40/0.30)")
        return {}

    monkeypatch.setattr(bench_cli, "run_benchmark", run_benchmark)
    monkeypatch.setattr(bench_cli, "_require_stack", lambda _config: None)
    out = tmp_path / "results"
    args = ["--catalogs", "1000", "--systems", "job", "--quick", "--out", str(out)]
    result = CliRunner().invoke(bench_cli.bench, [*args, "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    log = (out / "bench.log").read_text().splitlines()
    assert "CPUs, load " in log[0]  # the machine at the start
    assert log[1].endswith("a phase line (load 0.50/0.40/0.30)")
    assert seen["options"].catalogs == (1000,) and seen["options"].systems == ("job",)
    assert f"log:     {out / 'bench.log'}" in result.output
