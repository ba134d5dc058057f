"""``streamrec bench``: the job against its baselines on the local stack, in one run."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import click

from streamrec.bench.load import describe, load_average
from streamrec.bench.run import QUICK_PLAN, SYSTEMS, Options, run_benchmark
from streamrec.bench.runner import Plan
from streamrec.cli.errors import user_errors
from streamrec.cli.stack import stack_options
from streamrec.job_config.settings import Batching
from streamrec.stack.config import StackConfig
from streamrec.stack.errors import StackError
from streamrec.stack.ports import is_listening


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v.replace("_", "")) for v in text.split(",") if v.strip())
    except ValueError as ex:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from ex
    if not values or min(values) < 100:
        raise click.BadParameter("catalogue sizes must be at least 100 items")
    return values


def _systems(text: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in text.split(",") if v.strip())
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown or not names:
        raise click.BadParameter(f"unknown {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    return names


@click.command()
@click.option("--catalogs", default="10000,100000", show_default=True,
              help="catalogue sizes (items) to run, comma-separated")  # fmt: skip
@click.option("--systems", default=",".join(SYSTEMS), show_default=True,
              help="which streaming systems to run; (c) always runs")  # fmt: skip
@click.option("--max-batch", type=int, default=Batching.max_batch, show_default=True,
              help="job and (b): most events per model call; (c): its batch size")  # fmt: skip
@click.option("--max-delay-ms", type=int, default=Batching.max_delay_ms, show_default=True,
              help="job and (b): most added batching delay")  # fmt: skip
@click.option("-p", "--parallelism", type=int, default=1, show_default=True)
@click.option("--knobs", is_flag=True, help="also sweep the job's knobs (about 20 min more)")
@click.option("--quick", is_flag=True, help="short phases: a smoke run, not a measurement")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="results directory [default: <data dir>/bench/results/<time>]")  # fmt: skip
@stack_options
@user_errors
def bench(
    catalogs: str,
    systems: str,
    max_batch: int,
    max_delay_ms: int,
    parallelism: int,
    knobs: bool,
    quick: bool,
    out_dir: Path | None,
    data_dir: Path | None,
    **ports: int | None,
) -> None:
    """Throughput and latency of the job vs (a) a per-event consumer, (b) a micro-batching
    consumer and (c) score_batch alone, measured before and after each system, on the
    same model and traffic; writes results.json, throughput_vs_latency.png and bench.log
    (with the load average of every phase). Needs `streamrec stack up` first."""
    config = StackConfig.for_data_dir(data_dir, **ports)
    _require_stack(config)
    _quiet_tensorflow()
    options = Options(
        catalogs=_int_list(catalogs),
        systems=_systems(systems),
        plan=QUICK_PLAN if quick else Plan(),
        max_batch=max_batch,
        max_delay_ms=max_delay_ms,
        parallelism=parallelism,
        knobs=knobs,
        limit_events=1024 if quick else 4096,
    )
    out = out_dir or config.data_dir / "bench" / "results" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # The log goes beside results.json: it is the one record of when the load moved.
    with (out / "bench.log").open("a", encoding="utf-8") as log:

        def progress(line: str) -> None:
            stamped = f"[{time.monotonic() - started:6.0f}s] {line}"
            click.echo(stamped)
            log.write(stamped + "\n")
            log.flush()

        progress(
            f"benchmark: catalogues {options.catalogs}, systems {', '.join(options.systems)}; "
            f"{os.cpu_count()} CPUs, {describe(load_average())}"
        )
        run_benchmark(config, options, out, progress)
    click.echo(
        f"results: {out / 'results.json'}\nplot:    {out / 'throughput_vs_latency.png'}\n"
        f"log:     {out / 'bench.log'}"
    )


def _quiet_tensorflow() -> None:
    """TensorFlow's start-up notices and Keras' mask warning would bury the progress lines."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=".*does not support masking.*")


def _require_stack(config: StackConfig) -> None:
    for what, port in (
        ("Kafka", config.kafka_port),
        ("Cassandra", config.cassandra_port),
        ("Flink", config.flink_rest_port),
    ):
        if not is_listening("127.0.0.1", port):
            raise StackError(
                f"{what} is not answering on port {port}: start the stack with "
                "`streamrec stack up` (same --data-dir and ports) first"
            )
