"""Throughput of ways to run a vectorized TensorFlow scoring step inside a PyFlink 2.3 job.

Each design is one small job on a local mini-cluster (in-process, parallelism 1) that
scores N synthetic events with a stand-in model: a Keras MLP 64->64->32->1 in a
``tf.function``, fed a float32 [B, 64] batch built from a fixed per-user lookup table.
Designs: one model call per event in a KeyedProcessFunction; keyed ValueState alone (no
model); keyed buffering with processing-time timers (one model call per timer round or per
256 records); an AsyncFunction that batches in its event loop; a Table API pandas UDF.

Method. Source: the filesystem connector reading one CSV of N events (10,000 users) in
continuous-monitoring mode, turned into a DataStream with ``to_data_stream``: parsing runs
in Java, so no Python runs before the measured operator, and the source is unbounded, so
the job does not end at end of input (on a bounded source Flink drops the pending
processing-time timers and the timers designs lose records). Sink: Flink's Java
``DiscardingSink`` (pandas: the ``blackhole`` connector). The Python function writes its
counters to a file once it has emitted N records; the job is submitted with
``execute_async`` and cancelled then. Every design runs in a fresh subprocess at N and at
2N records; the rate is N / (wall(2N) - wall(N)), wall = submission to last record out,
which cancels mini-cluster, Python worker and TensorFlow start-up. The same difference over
busy time (first record into the function to last record out) also cancels in-job warm-up
and is the steadiest figure on a shared machine; the last two rates are taken inside the 2N
job alone: all records, and from 10% to 100% of the records out.

Run::

    .venv/bin/python -m streamrec.bench.designs --records 2000 --json out.json
    .venv/bin/python -m streamrec.bench.designs --designs timers_thread --records 20000
    .venv/bin/python -m streamrec.bench.designs --records-for per_event_thread=12000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pyflink.common import Configuration, Row, Time
from pyflink.common.job_client import JobClient
from pyflink.common.typeinfo import Types
from pyflink.datastream import (
    KeyedProcessFunction,
    RuntimeContext,
    StreamExecutionEnvironment,
)
from pyflink.datastream.async_data_stream import AsyncDataStream
from pyflink.datastream.connectors.base import Sink
from pyflink.datastream.functions import AsyncFunction
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor
from pyflink.java_gateway import get_gateway
from pyflink.table import DataTypes, StreamTableEnvironment, Table
from pyflink.table.expressions import col
from pyflink.table.udf import FunctionContext, ScalarFunction, udf

NUM_USERS = 10_000
FEATURE_DIM = 64
MAX_BATCH = 256
TICK_MS = 20
ASYNC_CAPACITY = 1024
RESULT_PREFIX = "BENCH_RESULT "
DISCOVERY_MS = 100
POLL_S = 0.02
DEFAULT_BUNDLE = (1000, 1000)
LARGE_BUNDLE = (100_000, 1000)


@dataclass(frozen=True)
class Design:
    """One measured job: what runs, in which Python execution mode, with which bundles."""

    name: str
    kind: str
    """per_event | keyed_state | keyed_noop | timers | async | pandas"""
    mode: str
    """thread | process"""
    bundle: tuple[int, int] | None = None
    """(python.fn-execution.bundle.size, .bundle.time ms); None leaves Flink's defaults."""
    arrow_batch: int | None = None
    """python.fn-execution.arrow.batch.size (pandas UDF designs)."""
    state_cache: int | None = None
    """python.state.cache-size (Flink's default: 1000 keys, below NUM_USERS)."""

    def settings(self) -> str:
        """The bundle/arrow settings as a short table cell."""
        parts = []
        if self.bundle is not None:
            parts.append(f"{self.bundle[0]}/{self.bundle[1]}ms")
        if self.arrow_batch is not None:
            parts.append(f"arrow {self.arrow_batch}")
        if self.state_cache is not None:
            parts.append(f"cache {self.state_cache}")
        return " ".join(parts) or "-"


DESIGNS: dict[str, Design] = {
    d.name: d
    for d in [
        Design("per_event_thread", "per_event", "thread"),
        Design("per_event_process", "per_event", "process", DEFAULT_BUNDLE),
        Design("per_event_process_b100k", "per_event", "process", LARGE_BUNDLE),
        Design("keyed_state_thread", "keyed_state", "thread"),
        Design("keyed_state_process", "keyed_state", "process", DEFAULT_BUNDLE),
        Design("keyed_state_process_b100k", "keyed_state", "process", LARGE_BUNDLE),
        Design(
            "keyed_state_process_cache",
            "keyed_state",
            "process",
            DEFAULT_BUNDLE,
            state_cache=4 * NUM_USERS,
        ),
        Design("keyed_noop_process", "keyed_noop", "process", DEFAULT_BUNDLE),
        Design("timers_thread", "timers", "thread"),
        Design("timers_process", "timers", "process", DEFAULT_BUNDLE),
        Design("timers_process_b100k", "timers", "process", LARGE_BUNDLE),
        Design("async_process", "async", "process", DEFAULT_BUNDLE),
        Design("pandas_udf", "pandas", "process", DEFAULT_BUNDLE, arrow_batch=1000),
        Design("pandas_udf_b100k", "pandas", "process", LARGE_BUNDLE, arrow_batch=10_000),
    ]
}


# --------------------------------------------------------------------------- model


class Scorer:
    """The stand-in model: per-user lookup features -> Keras MLP in a tf.function."""

    def __init__(self) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        # One op thread: the model is tiny and the machine has 2 cores shared with Flink.
        with contextlib.suppress(RuntimeError):  # already set in this interpreter
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.keras.utils.set_random_seed(0)
        model = tf.keras.Sequential(
            [
                tf.keras.Input(shape=(FEATURE_DIM,)),
                tf.keras.layers.Dense(64, activation="relu"),
                tf.keras.layers.Dense(32, activation="relu"),
                tf.keras.layers.Dense(1),
            ]
        )
        self._fn = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, FEATURE_DIM], tf.float32)],
            autograph=False,
        )
        rng = np.random.default_rng(1)
        self._table = (0.1 * rng.standard_normal((NUM_USERS, FEATURE_DIM))).astype(np.float32)
        self.calls = 0
        self.rows = 0
        self.score(np.zeros(1, np.int64), np.zeros(1))  # trace once, outside the counters
        self.calls = self.rows = 0

    def score(self, users: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Scores a batch: float32 [B, 64] features in, float32 [B] scores out."""
        x = self._table[users % NUM_USERS]
        x[:, 0] = values
        self.calls += 1
        self.rows += len(x)
        return self._fn(x).numpy()[:, 0]


# --------------------------------------------------------------------------- stats


class Meter:
    """Counters a Python function writes to ``stats_dir`` once it has emitted all records.

    The file is the job's completion signal: the jobs run on an unbounded source (see
    ``event_table``) and the driver cancels them when it appears.
    """

    def __init__(self, stats_dir: str, role: str, expected: int, scorer: Scorer | None) -> None:
        self.stats_dir = stats_dir
        self.role = role
        self.expected = expected
        self.scorer = scorer
        self.dumped = False
        self.records_in = 0
        self.outputs = 0
        self.first_in: float | None = None
        self.tenth_out: float | None = None  # when 10% of the records were out ...
        self.tenth_count = 0  # ... and how many exactly
        self.last_out = 0.0
        self.extra: Counter[str] = Counter()
        self.flush_sizes: list[int] = []

    def record_in(self) -> None:
        if self.first_in is None:
            self.first_in = time.time()
        self.records_in += 1

    def out(self, n: int = 1) -> None:
        self.outputs += n
        self.last_out = time.time()
        if self.tenth_out is None and self.outputs * 10 >= self.expected:
            self.tenth_out, self.tenth_count = self.last_out, self.outputs
        if self.outputs >= self.expected and not self.dumped:
            self.dump()

    def dump(self) -> None:
        """Writes the counters (atomically: the driver polls for ``done-*.json``)."""
        self.dumped = True
        scorer = self.scorer
        data = {
            "role": self.role,
            "pid": os.getpid(),
            "records_in": self.records_in,
            "outputs": self.outputs,
            "first_in": self.first_in,
            "tenth_out": self.tenth_out,
            "tenth_count": self.tenth_count,
            "last_out": self.last_out,
            "model_calls": scorer.calls if scorer else 0,
            "model_rows": scorer.rows if scorer else 0,
            "flushes": len(self.flush_sizes),
            "flush_rows": sum(self.flush_sizes),
            "extra": dict(self.extra),
        }
        name = f"{self.role}-{os.getpid()}-{id(self)}.json"
        tmp = Path(self.stats_dir) / f"tmp-{name}"
        tmp.write_text(json.dumps(data))
        tmp.rename(tmp.with_name(f"done-{name}"))


# --------------------------------------------------------------------------- functions

EVENT_TYPE = Types.TUPLE([Types.INT(), Types.DOUBLE()])
"""Buffered records in ListState; the source itself yields Row(user_id INT, value DOUBLE)."""
OUT_TYPE = Types.TUPLE([Types.INT(), Types.FLOAT()])
Event = tuple[int, float]


def user_key(event: Row) -> int:
    """Key selector: the user id."""
    return event[0]


class PerEventScore(KeyedProcessFunction):
    """Keyed ValueState counter + one model call per record (batch of 1), or less.

    ``kind``: per_event (state + model), keyed_state (state only) or keyed_noop (neither:
    the cost of the keyed Python operator itself).
    """

    def __init__(self, stats_dir: str, expected: int, kind: str) -> None:
        self.stats_dir = stats_dir
        self.expected = expected
        self.kind = kind

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))
        self.with_state = self.kind != "keyed_noop"
        self.scorer = Scorer() if self.kind == "per_event" else None
        self.meter = Meter(self.stats_dir, self.kind, self.expected, self.scorer)

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context) -> Iterator:
        self.meter.record_in()
        if self.with_state:
            self.count.update((self.count.value() or 0) + 1)
        score = 0.0
        if self.scorer is not None:
            score = float(self.scorer.score(np.array([value[0]]), np.array([value[1]]))[0])
        self.meter.out()
        yield value[0], score


class TimerBatchScore(KeyedProcessFunction):
    """Keyed buffering: ListState per key, one processing-time timer per 20 ms tick.

    A flush scores everything collected from the keys whose timers fired: at the end of a
    timer round (every key registered for that tick has fired), or at 256 records. A timer
    this instance did not register (e.g. after a restore) flushes at once.
    """

    def __init__(self, stats_dir: str, expected: int) -> None:
        self.stats_dir = stats_dir
        self.expected = expected

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))
        self.pending = runtime_context.get_list_state(ListStateDescriptor("pending", EVENT_TYPE))
        self.scorer = Scorer()
        self.meter = Meter(self.stats_dir, "timers", self.expected, self.scorer)
        self.rounds: dict[int, set[int]] = {}
        self.batch: list[Event] = []
        # Contiguity of timer rounds: was anything else delivered between two timers of one tick?
        self.last_seen: int | None = None  # tick of the previous on_timer; None after an element
        self.split: set[int] = set()
        self.round_timers: Counter[int] = Counter()

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context) -> Iterator:
        self.meter.record_in()
        self.last_seen = None
        self.count.update((self.count.value() or 0) + 1)
        self.pending.add((value[0], value[1]))
        timers = ctx.timer_service()
        tick = (timers.current_processing_time() // TICK_MS + 1) * TICK_MS
        timers.register_processing_time_timer(tick)
        self.rounds.setdefault(tick, set()).add(ctx.get_current_key())
        yield from ()

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator:
        self.meter.extra["timers_fired"] += 1
        self.batch.extend(self.pending.get() or ())
        self.pending.clear()
        keys = self.rounds.get(timestamp)
        if keys is None:
            self.meter.extra["flush_orphan"] += 1
            yield from self._flush()
            return
        if timestamp in self.round_timers and self.last_seen != timestamp:
            self.split.add(timestamp)
        self.last_seen = timestamp
        self.round_timers[timestamp] += 1
        keys.discard(ctx.get_current_key())
        if not keys:
            del self.rounds[timestamp]
            self.meter.extra["rounds"] += 1
            self.meter.extra["round_timers"] += self.round_timers.pop(timestamp)
            if timestamp in self.split:
                self.split.discard(timestamp)
                self.meter.extra["rounds_split"] += 1
            self.meter.extra["flush_round_end"] += 1
            yield from self._flush()
        elif len(self.batch) >= MAX_BATCH:
            self.meter.extra["flush_cap"] += 1
            yield from self._flush()

    def _flush(self) -> Iterator[tuple[int, float]]:
        batch, self.batch = self.batch, []
        if not batch:
            self.meter.extra["flush_empty"] += 1
            return
        users = np.fromiter((e[0] for e in batch), np.int64, len(batch))
        values = np.fromiter((e[1] for e in batch), np.float64, len(batch))
        scores = self.scorer.score(users, values)
        self.meter.flush_sizes.append(len(batch))
        self.meter.extra["rounds_open_at_last_flush"] = len(self.rounds)
        self.meter.out(len(batch))
        for (user, _), score in zip(batch, scores.tolist(), strict=True):
            yield user, score


class BatchingAsyncScore(AsyncFunction):
    """Async I/O whose event loop batches the in-flight records into one model call."""

    def __init__(self, stats_dir: str, expected: int) -> None:
        self.stats_dir = stats_dir
        self.expected = expected

    def open(self, runtime_context: RuntimeContext) -> None:
        self.scorer = Scorer()
        self.meter = Meter(self.stats_dir, "async", self.expected, self.scorer)
        # open() runs before the worker's event loop exists: the queue is made lazily.
        self.queue: asyncio.Queue[tuple[Row, asyncio.Future[float]]] | None = None
        self.batcher: asyncio.Task[None] | None = None

    async def async_invoke(self, value: Row) -> list[tuple[int, float]]:
        self.meter.record_in()
        loop = asyncio.get_running_loop()
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.batcher = loop.create_task(self._run_batches())
        future: asyncio.Future[float] = loop.create_future()
        self.queue.put_nowait((value, future))
        score = await future
        self.meter.out()
        return [(value[0], score)]

    async def _run_batches(self) -> None:
        assert self.queue is not None
        while True:
            items = [await self.queue.get()]
            await asyncio.sleep(0)  # let invocations already scheduled enqueue first
            while len(items) < MAX_BATCH and not self.queue.empty():
                items.append(self.queue.get_nowait())
            try:
                users = np.fromiter((v[0] for v, _ in items), np.int64, len(items))
                values = np.fromiter((v[1] for v, _ in items), np.float64, len(items))
                scores = self.scorer.score(users, values).tolist()
            except Exception as exc:
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.meter.flush_sizes.append(len(items))
            for (_, future), score in zip(items, scores, strict=True):
                if not future.done():
                    future.set_result(score)


class PandasScore(ScalarFunction):
    """Vectorized (pandas) scalar UDF: one model call per Arrow batch."""

    def __init__(self, stats_dir: str, expected: int) -> None:
        self.stats_dir = stats_dir
        self.expected = expected

    def open(self, function_context: FunctionContext) -> None:
        self.scorer = Scorer()
        self.meter = Meter(self.stats_dir, "pandas", self.expected, self.scorer)

    def eval(self, users: Any, values: Any) -> Any:
        import pandas as pd

        if self.meter.first_in is None:
            self.meter.first_in = time.time()
        self.meter.records_in += len(users)
        scores = self.scorer.score(users.to_numpy(np.int64), values.to_numpy(np.float64))
        self.meter.flush_sizes.append(len(users))
        self.meter.out(len(users))
        return pd.Series(scores)


# --------------------------------------------------------------------------- one job


def write_events(path: Path, n: int, seed: int = 7) -> None:
    """N events ``user_id,value`` over NUM_USERS distinct users, deterministic, as CSV."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, NUM_USERS, n)
    values = rng.random(n)
    with path.open("w") as out:
        out.writelines(f"{u},{v:.6f}\n" for u, v in zip(users, values, strict=True))


def flink_config(design: Design) -> dict[str, str]:
    """The Flink settings a design runs with."""
    conf = {
        "python.execution-mode": design.mode,
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        "parallelism.default": "1",
    }
    if design.bundle is not None:
        conf["python.fn-execution.bundle.size"] = str(design.bundle[0])
        conf["python.fn-execution.bundle.time"] = str(design.bundle[1])
    if design.arrow_batch is not None:
        conf["python.fn-execution.arrow.batch.size"] = str(design.arrow_batch)
    if design.state_cache is not None:
        conf["python.state.cache-size"] = str(design.state_cache)
    # No env.java.opts.all here: the mini-cluster runs inside PyFlink's gateway JVM, which
    # is launched with the module flags of the packaged pyflink/conf/config.yaml.
    return conf


def event_table(t_env: StreamTableEnvironment, data_dir: Path) -> Table:
    """The events as a table (user_id INT, value DOUBLE), read and parsed in Java only.

    The filesystem connector over one CSV file, in continuous-monitoring mode: Java parsing,
    so no Python runs before the measured operator, and unbounded, so the job keeps running
    after the last record. A bounded source ends the job at end of input, and Flink then
    drops the pending processing-time timers (the timers designs would lose their last
    rounds, and in process mode most of their records).
    """
    t_env.execute_sql(
        "CREATE TEMPORARY TABLE events (user_id INT, `value` DOUBLE) WITH ("
        "'connector' = 'filesystem', 'format' = 'csv', "
        f"'path' = '{data_dir}', 'source.monitor-interval' = '{DISCOVERY_MS}ms')"
    )
    return t_env.from_path("events")


def discarding_sink() -> Sink:
    """Flink's Java DiscardingSink: drops records without running any Python."""
    jvm = get_gateway().jvm
    return Sink(jvm.org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink())


def submit_job(design: Design, n: int, data_dir: Path, stats_dir: str) -> JobClient:
    """Builds one design over the N events in ``data_dir`` and submits it (asynchronously)."""
    settings = flink_config(design)
    config = Configuration()
    for key, value in settings.items():
        config.set_string(key, value)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(1)
    t_env = StreamTableEnvironment.create(env)
    for key, value in settings.items():
        t_env.get_config().set(key, value)
    table = event_table(t_env, data_dir)

    if design.kind == "pandas":
        score = udf(PandasScore(stats_dir, n), result_type=DataTypes.FLOAT(), func_type="pandas")
        t_env.execute_sql(
            "CREATE TEMPORARY TABLE bench_sink (user_id INT, score FLOAT) "
            "WITH ('connector' = 'blackhole')"
        )
        scored = table.select(col("user_id"), score(col("user_id"), col("value")))
        client = scored.execute_insert("bench_sink").get_job_client()
        assert client is not None
        return client

    events = t_env.to_data_stream(table)  # Row(user_id, value), converted in Java
    if design.kind == "async":
        out = AsyncDataStream.unordered_wait(
            events,
            BatchingAsyncScore(stats_dir, n),
            Time.milliseconds(0),  # >0 starts a threading.Timer per record
            capacity=ASYNC_CAPACITY,
            output_type=OUT_TYPE,
        )
    else:
        keyed = events.key_by(user_key, key_type=Types.INT())
        function: KeyedProcessFunction
        if design.kind == "timers":
            function = TimerBatchScore(stats_dir, n)
        else:
            function = PerEventScore(stats_dir, n, design.kind)
        out = keyed.process(function, output_type=OUT_TYPE)
    out.sink_to(discarding_sink())
    return env.execute_async(f"bench-{design.name}-{n}")


def wait_done(client: JobClient, stats_dir: str, deadline: float) -> dict[str, Any]:
    """Waits for the completion file; raises if the job ends first or time runs out."""
    next_status = 0.0
    while time.monotonic() < deadline:
        done = sorted(Path(stats_dir).glob("done-*.json"))
        if done:
            return json.loads(done[0].read_text())
        if time.monotonic() >= next_status:
            status = client.get_job_status().result()
            if status.is_globally_terminal_state():
                try:
                    client.get_job_execution_result().result()
                except Exception as exc:
                    raise RuntimeError(f"job {status.name}: {exc}") from exc
                raise RuntimeError(f"job {status.name} before emitting all records")
            next_status = time.monotonic() + 1.0
        time.sleep(POLL_S)
    raise TimeoutError("no completion file before the deadline")


def child_main(design_name: str, n: int, timeout_s: float) -> int:
    """Runs one design once in this process and prints its result line."""
    design = DESIGNS[design_name]
    work = Path(tempfile.mkdtemp(prefix="streamrec-bench-"))
    try:
        data_dir, stats_dir = work / "data", work / "stats"
        data_dir.mkdir()
        stats_dir.mkdir()
        write_events(data_dir / "events.csv", n)
        deadline = time.monotonic() + timeout_s
        submitted = time.time()
        client = submit_job(design, n, data_dir, str(stats_dir))
        stats = wait_done(client, str(stats_dir), deadline)
        with contextlib.suppress(Exception):
            client.cancel().result(30)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "design": design.name,
        "records": n,
        "wall_s": stats["last_out"] - submitted,
        **stats,
    }
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------- driver


@dataclass
class Outcome:
    """One design's measurement (or its failure)."""

    design: str
    kind: str
    mode: str
    settings: str
    records: int
    ok: bool = False
    error: str | None = None
    wall_n_s: float | None = None
    wall_2n_s: float | None = None
    rate: float | None = None
    """records/s: N / (wall(2N) - wall(N)), wall = job submission to last record out"""
    inside_diff_rate: float | None = None
    """records/s: N / (busy(2N) - busy(N)), busy = first record into the function to last out;
    cancels start-up and in-job warm-up, the steadiest figure when the machine is shared"""
    inside_rate: float | None = None
    """records/s inside the 2N job: first record into Python to last record out"""
    steady_rate: float | None = None
    """records/s inside the 2N job from 10% to 100% of the records out (past warm-up)"""
    outputs_2n: int | None = None
    model_calls: int | None = None
    mean_batch: float | None = None
    flush_mean: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def child_env() -> dict[str, str]:
    """Environment of a design subprocess: the venv's bin/ first (thread mode needs pemja)."""
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def error_summary(log: str) -> str:
    """The most telling line of a failed run's output."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    caused = [line for line in lines if line.startswith("Caused by:")]
    python_errors = [
        line
        for line in lines
        if line.split(":", 1)[0].endswith(("Error", "Exception")) and " " not in line.split(":")[0]
    ]
    for candidates in (python_errors, caused, lines):
        if candidates:
            return candidates[-1][:400]
    return "no output"


def run_once(design: Design, n: int, timeout_s: float, log_dir: Path) -> dict[str, Any]:
    """Runs one design at N records in a subprocess; returns its result or raises."""
    log_path = log_dir / f"{design.name}-{n}.log"
    cmd = [sys.executable, "-m", "streamrec.bench.designs", "--child", design.name]
    cmd += ["--records", str(n), "--timeout", str(max(timeout_s - 30, 10))]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, env=child_env(), capture_output=True, text=True, timeout=timeout_s, check=False
        )
        log = proc.stdout + proc.stderr
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        err = exc.stderr or ""
        log = (out.decode() if isinstance(out, bytes) else out) + (
            err.decode() if isinstance(err, bytes) else err
        )
        rc = None
    log_path.write_text(log)
    elapsed = time.perf_counter() - start
    for line in log.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
            result["process_s"] = elapsed
            return result
    if rc is None:
        raise RuntimeError(f"timed out after {timeout_s:.0f} s (log {log_path})")
    raise RuntimeError(f"exit {rc}: {error_summary(log)} (log {log_path})")


def measure(design: Design, n: int, timeout_s: float, log_dir: Path) -> Outcome:
    """Runs a design at N and 2N and derives its rates."""
    outcome = Outcome(design.name, design.kind, design.mode, design.settings(), n)
    try:
        runs = []
        for size in (n, 2 * n):
            print(f"[{design.name}] running {size} records ...", flush=True)
            result = run_once(design, size, timeout_s, log_dir)
            print(
                f"[{design.name}] {size} records: submit-to-last-output {result['wall_s']:.1f} s "
                f"(subprocess {result['process_s']:.1f} s), outputs {result['outputs']}",
                flush=True,
            )
            runs.append(result)
    except Exception as exc:
        outcome.error = str(exc)
        print(f"[{design.name}] FAILED: {exc}", flush=True)
        return outcome
    small, large = runs
    outcome.ok = True
    outcome.wall_n_s, outcome.wall_2n_s = small["wall_s"], large["wall_s"]
    diff = large["wall_s"] - small["wall_s"]
    outcome.rate = n / diff if diff > 0 else None
    busy = [run["last_out"] - run["first_in"] if run["first_in"] else 0.0 for run in runs]
    if busy[0] > 0 and busy[1] > busy[0]:
        outcome.inside_diff_rate = n / (busy[1] - busy[0])
    if large["first_in"] and large["last_out"] and large["last_out"] > large["first_in"]:
        outcome.inside_rate = large["outputs"] / (large["last_out"] - large["first_in"])
    if large["tenth_out"] and large["last_out"] > large["tenth_out"]:
        steady = large["outputs"] - large["tenth_count"]
        outcome.steady_rate = steady / (large["last_out"] - large["tenth_out"])
    outcome.outputs_2n = large["outputs"]
    outcome.model_calls = large["model_calls"]
    if large["model_calls"]:
        outcome.mean_batch = large["model_rows"] / large["model_calls"]
    if large["flushes"]:
        outcome.flush_mean = large["flush_rows"] / large["flushes"]
    outcome.extra = large["extra"]
    if large["outputs"] != 2 * n:
        outcome.extra["missing_outputs"] = 2 * n - large["outputs"]
    print(f"[{design.name}] {fmt(outcome.rate)} rec/s", flush=True)
    return outcome


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def print_table(outcomes: list[Outcome]) -> None:
    """The final table: one row per design."""
    header = (
        "design",
        "mode",
        "bundle",
        "records N",
        "rec/s (2N-N)",
        "in-job 2N-N",
        "rec/s inside",
        "rec/s 10-100%",
        "model calls",
        "mean batch",
    )
    rows = [header]
    for o in outcomes:
        rows.append(
            (
                o.design,
                o.mode,
                o.settings,
                f"{o.records:,}",
                fmt(o.rate) if o.ok else "FAILED",
                fmt(o.inside_diff_rate),
                fmt(o.inside_rate),
                fmt(o.steady_rate),
                fmt(o.model_calls) if o.ok else "-",
                fmt(o.mean_batch, 1),
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
    for o in outcomes:
        if not o.ok:
            print(f"FAILED {o.design}: {o.error}")
        elif o.extra:
            print(f"{o.design}: {json.dumps(o.extra, sort_keys=True)}")


def parse_sizes(text: str | None) -> dict[str, int]:
    """'a=1000,b=2000' -> {'a': 1000, 'b': 2000}."""
    sizes: dict[str, int] = {}
    for part in filter(None, (text or "").split(",")):
        name, _, value = part.partition("=")
        sizes[name.strip()] = int(value)
    return sizes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="N (each design also runs 2N)")
    parser.add_argument(
        "--records-for",
        default=None,
        help="per-design N overriding --records, e.g. keyed_state_thread=100000,pandas_udf=200000",
    )
    parser.add_argument(
        "--designs", default=",".join(DESIGNS), help=f"comma list of: {', '.join(DESIGNS)}"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="seconds allowed per job subprocess"
    )
    parser.add_argument("--log-dir", type=Path, default=None, help="keep subprocess logs here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child, args.records, args.timeout)
    names = [name.strip() for name in args.designs.split(",") if name.strip()]
    unknown = [name for name in names if name not in DESIGNS]
    if unknown:
        print(f"unknown designs: {', '.join(unknown)}; known: {', '.join(DESIGNS)}")
        return 2
    sizes = parse_sizes(args.records_for)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="streamrec-bench-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    print(f"logs: {log_dir}; load average {load_start}", flush=True)
    outcomes: list[Outcome] = []
    for name in names:
        outcomes.append(
            measure(DESIGNS[name], sizes.get(name, args.records), args.timeout, log_dir)
        )
    print(f"\nload average at the end: {os.getloadavg()}")
    print_table(outcomes)
    if args.json:
        meta = {
            "source": "filesystem connector, CSV, continuous monitoring -> to_data_stream",
            "sink": "DiscardingSink (DataStream) / blackhole (Table)",
            "rate": "N / (wall(2N) - wall(N)), wall = submit to last output, fresh subprocess",
            "inside_diff_rate": "N / (busy(2N) - busy(N)), busy = first input to last output",
            "inside_rate": "2N run: outputs / (last output - first input), in the function",
            "steady_rate": "2N run: from 10% to 100% of the outputs",
            "cpus": os.cpu_count(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
        }
        args.json.write_text(
            json.dumps({"meta": meta, "results": [asdict(o) for o in outcomes]}, indent=2)
        )
        print(f"wrote {args.json}")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    # Run the imported module's main so that cloudpickle sends the function classes by
    # reference (streamrec.bench.designs.X), not by value from __main__.
    from streamrec.bench.designs import main as imported_main

    sys.exit(imported_main(None))
