"""The recommend job's configuration: every default of ``jobs/recommend.py``, once.

``JobConfig`` is what the job is built from; its groups (``Topics``, ``Scoring``,
``Batching``, ``Checkpointing``, ``UserState``, ``EventTime``, ``Trending``,
``Feedback``, ``ModelIntake``) are what the operator, the scoring worker and the sinks receive. Each
field carries the command-line flag that sets it, so the job's parser, the submitters that
render arguments for it (``job_config.flags``) and the readers of a default (CLI,
benchmark, scoring worker) all take it from here. Standard library and pure streamrec
modules only: the CLI, the benchmark and the scoring worker import this without PyFlink or
TensorFlow.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from streamrec.contracts.event import MAX_PAST_AGE_MS
from streamrec.errors import StreamrecError
from streamrec.model_package.artifact_fetch import (
    DEFAULT_FETCH_TIMEOUT_S,
    DEFAULT_MAX_ARTIFACT_BYTES,
)
from streamrec.model_package.package_limits import DEFAULT_LIMITS
from streamrec.state.features import DEFAULT_HALF_LIFE_MS

DAY_MS = 86_400_000
DELIVERY_MODES = ("exactly-once", "at-least-once")  # the Kafka table sink's own names
STATE_BACKENDS = ("cluster", "rocksdb", "hashmap")
RETRIEVAL_BACKENDS = ("auto", "brute", "hnsw")


class JobConfigError(StreamrecError):
    """A job setting out of its range; the message names the flag, the rule and the value."""


def option(
    default: Any,
    flag: str,
    help: str = "",
    *,
    choices: tuple[str, ...] = (),
    metavar: str | None = None,
) -> Any:
    """A field with its default (``MISSING``: required) and the flag (and help) that sets it."""
    metadata = {"flag": flag, "help": help, "choices": choices, "metavar": metavar}
    return field(default=default, metadata=metadata)


def _check(group: object, name: str, ok: bool, rule: str) -> None:
    if not ok:
        flag = next(f.metadata["flag"] for f in fields(group) if f.name == name)  # type: ignore[arg-type]
        raise JobConfigError(f"{flag} {rule}, got {getattr(group, name)!r}")


def _choice(group: object, name: str, choices: tuple[str, ...]) -> None:
    _check(group, name, getattr(group, name) in choices, f"must be one of {', '.join(choices)}")


@dataclass(frozen=True)
class Topics:
    """Kafka topics the job reads and writes; ``stack.topics`` creates the same names."""

    events: str = option("events", "--events-topic", "input events (JSON, key = user_id)")
    """Input events; read from the group's committed offsets on a fresh start."""
    dead_letters: str = option("events.dlq", "--dlq-topic", "bad input with its reason")
    """Events the parser refused, each with a reason code (docs/architecture.md, section 2)."""
    models: str = option("models", "--models-topic", "signed model references (compacted)")
    """Compacted, read from the beginning: the newest reference per model must be seen."""
    rules: str = option("rules", "--rules-topic", "business rules (compacted)")
    """Compacted, read from the beginning, like ``models``."""
    recommendations: str = option(
        "recommendations", "--recommendations-topic", "output, key = user_id"
    )
    """Output records, one per valid event, each naming the model version that made it."""
    trending: str = option(
        "trending", "--trending-topic", "trending items per scope (compacted, key = scope)"
    )
    """The newest trending list per scope (``all``, ``category:<name>``), one record per
    scope per slide; compacted, so a reader finds the current lists without replaying."""
    feedback: str = option(
        "feedback", "--feedback-topic", "impressions, clicks and CTR per model version"
    )
    """One record per minute per (model version, rules version, strategy) with feedback."""
    serving_features: str = option(
        "serving-features", "--serving-features-topic", "features each recommendation was "
        "scored with, key = user_id (training input)",
    )  # fmt: skip
    """One record per logged recommendation (contracts.serving_features): what
    ``streamrec model train --serving-log`` trains on."""

    def prefixed(self, prefix: str) -> Topics:
        """The same topics under ``prefix`` (tests and benchmarks run one job per prefix)."""
        return Topics(**{f.name: f"{prefix}{getattr(self, f.name)}" for f in fields(self)})

    def names(self) -> tuple[str, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True)
class Scoring:
    """What the scoring worker computes per event, and with what."""

    k: int = option(20, "--k", "items per recommendation")
    """Items per recommendation (and per Cassandra row)."""
    num_candidates: int = option(200, "--num-candidates", "retrieved per event")
    """Items retrieved per event before filtering and ranking; the ranker scores events x
    candidates rows per batch."""
    retrieval_backend: str = option(
        "auto", "--retrieval-backend", "retrieval: auto, brute or hnsw",
        choices=RETRIEVAL_BACKENDS,
    )  # fmt: skip
    """auto: HNSW from a catalogue size on, when faiss is installed, else brute force
    (scoring.retrieval); brute and hnsw force one."""
    python: str | None = option(
        None,
        "--scoring-python",
        "Python interpreter that runs each scoring worker on the TaskManagers (default: "
        "the TaskManager's own Python)",
    )
    """None: the TaskManager's interpreter, which has streamrec installed."""
    tf_threads: int = option(
        1,
        "--scoring-tf-threads",
        "TensorFlow threads per scoring worker (0: one per core)",
    )
    """One leaves the other core to the TaskManager, Kafka and Cassandra: a 20,000-event
    backlog drained at 1,038 events/s with one thread vs 856 with one per core
    (docs/architecture.md, section 6, 'The hot path')."""
    cold_start_events: int = option(
        1,
        "--cold-start-events",
        "a user with at most this many events is answered from trending (0: never)",
    )
    """1: the first event of a new user is answered with what trends in its item's category
    (then overall), not with what the towers make of an empty history."""
    trending_candidates: int = option(
        20, "--trending-candidates", "items trending now added to every user's candidates"
    )
    """The model ranks what trends this minute even when retrieval misses it (0: never).
    Online lists then differ from offline scoring's, which has no trending."""
    trending_slots: int = option(
        2, "--trending-slots", "places in a model's list for trending items it never saw"
    )
    """New items reach users through trending before any retraining (0: never)."""

    def __post_init__(self) -> None:
        _check(self, "k", self.k >= 1, "must be at least 1")
        _check(self, "num_candidates", self.num_candidates >= 1, "must be at least 1")
        _choice(self, "retrieval_backend", RETRIEVAL_BACKENDS)
        _check(self, "tf_threads", self.tf_threads >= 0, "must be 0 (one per core) or more")
        _check(self, "cold_start_events", self.cold_start_events >= 0, "must be 0 or more")
        _check(self, "trending_candidates", 0 <= self.trending_candidates <= 1000,
               "must be 0 to 1000")  # fmt: skip
        _check(self, "trending_slots", 0 <= self.trending_slots <= self.k, "must be 0 to --k")


@dataclass(frozen=True)
class Batching:
    """How events are gathered into one scoring call, and how fast records move on."""

    max_batch: int = option(256, "--max-batch", "most events per model call")
    """A cap on one scoring call, not a target: rounds (``max_delay_ms``) decide how many
    events a batch gets, and they grow with the load (150-290 events per round while
    draining a backlog at 10K items, docs/architecture.md, section 6). The benchmark's
    bare-scoring limit (c) is measured at this batch size too."""
    max_delay_ms: int = option(20, "--max-delay-ms", "most added batching delay")
    """The round length (udfs.timer_rounds): a round opens with its first event and
    collects for this long, stretched to the last batch's scoring time (at most 5x).
    Opening rounds with their first event rather than on 20 ms clock ticks took the
    backlog drain from 420-470 to 656-1,043 events/s (docs/architecture.md, section 6)."""
    buffer_timeout_ms: int = option(
        10,
        "--buffer-timeout-ms",
        "most time a record waits in a network buffer between operators (Flink's default "
        "is 100; measured in streamrec.bench)",
    )
    """Flink's 100 ms would add up to 100 ms per operator hop to every event's latency;
    the benchmark's knob sweep measures both."""
    bundle_size: int | None = option(None, "--bundle-size", "python.fn-execution.bundle.size")
    """None: Flink's own (1,000); a knob of the benchmark's sweep."""
    bundle_time_ms: int | None = option(None, "--bundle-time-ms", "python.fn-execution.bundle.time")
    """None: Flink's own; a knob of the benchmark's sweep."""

    def __post_init__(self) -> None:
        _check(self, "max_batch", self.max_batch >= 1, "must be at least 1")
        # udfs.timer_rounds needs a positive tick; refused here, not in a restart loop.
        _check(self, "max_delay_ms", self.max_delay_ms >= 1, "must be at least 1")
        _check(self, "buffer_timeout_ms", self.buffer_timeout_ms >= -1,
               "must be -1 (flush only full buffers) or more")  # fmt: skip
        for name in ("bundle_size", "bundle_time_ms"):
            value = getattr(self, name)
            _check(self, name, value is None or value >= 1, "must be at least 1")


@dataclass(frozen=True)
class Checkpointing:
    """What a checkpoint covers and when outputs become visible."""

    interval_ms: int = option(10_000, "--checkpoint-interval-ms", "checkpoint interval")
    """Exactly-once output becomes readable to read_committed consumers at each checkpoint,
    so this is also their latency; Cassandra rows are readable at once either way."""
    delivery: str = option(
        "exactly-once",
        "--delivery",
        "exactly-once: outputs visible to read_committed readers at each checkpoint; "
        "at-least-once: visible at once, duplicates possible after a failure (dedupe on "
        "event_id)",
        choices=DELIVERY_MODES,
    )
    """Transactional Kafka output by default: no loss and no duplicate for read_committed
    readers; at-least-once readers dedupe on the trigger's ``event_id``."""
    state_backend: str = option(
        "cluster",
        "--state-backend",
        "keyed state backend; cluster: what flink-conf says (rocksdb)",
        choices=STATE_BACKENDS,
    )
    """cluster leaves the choice to the cluster's configuration (rocksdb on our stack)."""

    def __post_init__(self) -> None:
        _check(self, "interval_ms", self.interval_ms >= 1, "must be at least 1")
        _choice(self, "delivery", DELIVERY_MODES)
        _choice(self, "state_backend", STATE_BACKENDS)


@dataclass(frozen=True)
class UserState:
    """Per-user keyed state."""

    ttl_days: int = option(30, "--state-ttl-days", "days a user's state lives without events")
    """A user idle this long starts again from empty features (state TTL)."""
    half_life_ms: int = option(DEFAULT_HALF_LIFE_MS, "--half-life-ms", "feature decay half-life")
    """How fast old interactions fade from a user's features (state.features: 7 days)."""

    def __post_init__(self) -> None:
        _check(self, "ttl_days", self.ttl_days >= 1, "must be at least 1")
        _check(self, "half_life_ms", self.half_life_ms >= 1, "must be at least 1")


@dataclass(frozen=True)
class EventTime:
    """Event timestamps: what is too old, and how watermarks follow the input."""

    max_event_age_days: float = option(
        MAX_PAST_AGE_MS / DAY_MS, "--max-event-age-days", "older events go to the DLQ as past_ts"
    )
    """contracts.event's bound (365 days): older is a unit mix-up or a replay; raise it to
    replay a historical dataset."""
    out_of_orderness_ms: int = option(5_000, "--out-of-orderness-ms", "watermark lag")
    """How late an event may arrive behind the newest one seen and still be on time."""
    idleness_ms: int = option(30_000, "--idleness-ms", "a quiet partition stops holding watermarks")
    """A partition without events this long no longer holds back the watermark."""

    def __post_init__(self) -> None:
        _check(self, "max_event_age_days", self.max_event_age_days > 0, "must be positive")
        _check(self, "out_of_orderness_ms", self.out_of_orderness_ms >= 0, "must be 0 or more")
        _check(self, "idleness_ms", self.idleness_ms >= 1, "must be at least 1")

    @property
    def max_event_age_ms(self) -> int:
        return int(self.max_event_age_days * DAY_MS)


TRENDING_WEIGHTS = "view=1,click=2,add=4,purchase=8"
TRENDING_TYPES = ("view", "click", "add", "purchase", "impression")


def parse_weights(text: str) -> dict[str, float]:
    """``type=weight,...`` -> {type: weight}; ValueError names what is wrong."""
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or name not in TRENDING_TYPES:
            raise ValueError(f"{part.strip()!r} is not <type>=<weight> with a type of "
                             f"{', '.join(TRENDING_TYPES)}")  # fmt: skip
        weight = float(value)
        if not 0 <= weight <= 1e6 or name in weights:
            raise ValueError(f"{part.strip()!r}: a weight from 0 to 1e6, once per type")
        weights[name] = weight
    return weights


@dataclass(frozen=True)
class Trending:
    """Items engaged with most in the last window of event time (jobs.trending_sql).

    Computed in Flink SQL, in the JVM: per event only JSON_VALUE and a window aggregate run,
    no Python. Published per scope on the trending topic and to Cassandra, and what a user
    with no history is answered with (``Scoring.cold_start_events``)."""

    window_ms: int = option(300_000, "--trending-window-ms", "trending window (event time)")
    """Five minutes: long enough to gather a signal at a few events/s, short enough to
    follow a burst."""
    slide_ms: int = option(60_000, "--trending-slide-ms", "how often trending is recomputed")
    """A new list per scope every minute, each over the last ``window_ms``."""
    lateness_ms: int = option(
        10_000,
        "--trending-lateness-ms",
        "how far behind the newest event time an event still counts; later ones are "
        "dropped and counted (numLateRecordsDropped)",
    )
    """The trending watermark's lag: events this late still land in their window."""
    weights: str = option(
        TRENDING_WEIGHTS, "--trending-weights", "engagement weight per event type"
    )
    """A purchase says more than a view; types left out (request, impression) weigh 0."""
    top_n: int = option(50, "--trending-top-n", "items per trending list")
    """More than k, so that filters and seen items still leave k to recommend."""

    def __post_init__(self) -> None:
        for name in ("window_ms", "slide_ms"):
            _check(self, name, getattr(self, name) >= 1000 and getattr(self, name) % 1000 == 0,
                   "must be whole seconds, at least 1000")  # fmt: skip
        _check(self, "window_ms", self.window_ms % self.slide_ms == 0,
               "must be a multiple of --trending-slide-ms")  # fmt: skip
        _check(self, "lateness_ms", self.lateness_ms >= 0, "must be 0 or more")
        _check(self, "top_n", 1 <= self.top_n <= 1000, "must be from 1 to 1000")
        try:
            weights = parse_weights(self.weights)
        except ValueError as ex:
            raise JobConfigError(f"--trending-weights {ex}") from None
        _check(self, "weights", any(w > 0 for w in weights.values()),
               "must give some type a positive weight")  # fmt: skip

    @property
    def weight_of(self) -> dict[str, float]:
        return parse_weights(self.weights)


@dataclass(frozen=True)
class Feedback:
    """Impressions and clicks joined to the recommendations they answer (jobs.feedback_sql).

    A client reports ``impression``, ``click``, ``add`` or ``purchase`` events carrying the
    recommendation's ``event_id`` as ``context.rec_id``; the job joins them in event time to
    the recommendation (the job's own output) and counts them per model version."""

    horizon_ms: int = option(
        300_000, "--feedback-horizon-ms", "how long after a recommendation feedback counts"
    )
    """Five minutes: impressions come within seconds of an answer and clicks within a
    visit. It is also the delay of the counts: the interval join holds its output
    watermark back by the horizon (a match may still come), so a minute's counts appear
    about one horizon after the minute. The join keeps each recommendation this long."""
    window_ms: int = option(60_000, "--feedback-window-ms", "feedback aggregation window")
    """A row per minute per model version (Cassandra's feedback_by_version)."""
    lateness_ms: int = option(
        10_000, "--feedback-lateness-ms", "how late feedback may arrive and still be joined"
    )
    hit_k: int = option(10, "--feedback-hit-k", "hit rate@k: engaged with one of the first k")
    """A recommendation is a hit when its user engages (view, click, add, purchase) with
    one of its first k items within the horizon after the event it answered."""

    def __post_init__(self) -> None:
        _check(self, "horizon_ms", self.horizon_ms >= 1000, "must be at least 1000")
        _check(self, "hit_k", 1 <= self.hit_k <= 1000, "must be 1 to 1000")
        _check(self, "window_ms", self.window_ms >= 1000 and self.window_ms % 1000 == 0,
               "must be whole seconds, at least 1000")  # fmt: skip
        _check(self, "lateness_ms", self.lateness_ms >= 0, "must be 0 or more")


@dataclass(frozen=True)
class ModelIntake:
    """Which model references the job trusts, and what it will fetch."""

    public_keys: tuple[str, ...] = option(
        (),
        "--model-public-key",
        "publisher public key (PEM or base64 file) that model references must be signed "
        "with; repeat to trust several (key rotation). Without one, every model is rejected",
        metavar="PATH",
    )
    """Paths on the submitting machine; the keys are read there and travel as base64."""
    public_keys_base64: tuple[str, ...] = option(
        (),
        "--model-public-key-base64",
        "the same as --model-public-key, given inline as base64 of the raw 32-byte key",
        metavar="KEY",
    )
    """Inline keys, for deployments with no file to mount."""
    cache_dir: str | None = option(
        None,
        "--model-cache-dir",
        "TaskManager directory for fetched packages, by sha256 (default: "
        "<system temp dir>/streamrec-model-cache)",
    )
    """None: a directory under the TaskManager's temp dir."""
    max_bytes: int = option(
        DEFAULT_MAX_ARTIFACT_BYTES,
        "--max-model-bytes",
        "largest package the job fetches; a larger one is rejected",
    )
    """model_package.artifact_fetch's cap (128 MiB)."""
    max_decompressed_bytes: int = option(
        DEFAULT_LIMITS.max_decompressed_bytes,
        "--max-model-decompressed-bytes",
        "most a package may expand to when loaded (package_limits has the other caps)",
    )
    """model_package.package_limits' cap (1 GiB)."""
    fetch_timeout_s: float = option(
        DEFAULT_FETCH_TIMEOUT_S,
        "--model-fetch-timeout-s",
        "most time to fetch one package from the artifact store",
    )
    """model_package.artifact_fetch's timeout (60 s)."""

    def __post_init__(self) -> None:
        _check(self, "max_bytes", self.max_bytes >= 1, "must be at least 1")
        _check(self, "max_decompressed_bytes", self.max_decompressed_bytes >= 1,
               "must be at least 1")  # fmt: skip
        _check(self, "fetch_timeout_s", self.fetch_timeout_s > 0, "must be positive")


@dataclass(frozen=True)
class ServingLog:
    """The features each recommendation was scored with, logged for training
    (contracts.serving_features, scoring.serving_log)."""

    rate: float = option(
        1.0,
        "--serving-features-rate",
        "share of users whose serving features are logged (0: off; users are sampled, "
        "not events, so a logged user's records stay consecutive)",
    )
    """On for every user by default: the log is the next model's training input, and a
    sample trains on fewer users. It is one more JSON record per recommendation (a few KiB:
    the user's state) on an exactly-once topic; docs/architecture.md has its measured cost."""

    def __post_init__(self) -> None:
        _check(self, "rate", 0.0 <= self.rate <= 1.0, "must be from 0 to 1")


@dataclass(frozen=True)
class JobConfig:
    """Everything ``jobs/recommend.py`` is built from; only ``bootstrap`` has no default."""

    bootstrap: str = option(MISSING, "--bootstrap", "Kafka bootstrap servers")
    """Kafka bootstrap servers (required: there is no sensible default to guess)."""
    cassandra: str | None = option(None, "--cassandra", "host:port; omit to skip Cassandra")
    """host:port of Cassandra; None: recommendations go to Kafka only."""
    keyspace: str = option("streamrec", "--keyspace", "Cassandra keyspace")
    """The keyspace the stack's migrations create (stack.config uses this default too)."""
    job_name: str = option("streamrec", "--job-name", "Flink job name")
    """Also the prefix of the Kafka sink's transactional ids; ``streamrec job`` finds the
    job by it."""
    group_id: str = option("streamrec-job", "--group-id", "Kafka consumer group prefix")
    """Prefix of the sources' consumer groups (``-events``, ``-model``, ``-rules``)."""
    topics: Topics = field(default_factory=Topics)
    scoring: Scoring = field(default_factory=Scoring)
    batching: Batching = field(default_factory=Batching)
    checkpointing: Checkpointing = field(default_factory=Checkpointing)
    state: UserState = field(default_factory=UserState)
    event_time: EventTime = field(default_factory=EventTime)
    trending: Trending = field(default_factory=Trending)
    feedback: Feedback = field(default_factory=Feedback)
    models: ModelIntake = field(default_factory=ModelIntake)
    serving_log: ServingLog = field(default_factory=ServingLog)

    def __post_init__(self) -> None:
        _check(self, "bootstrap", bool(self.bootstrap), "is required (host:port of Kafka)")
        if self.cassandra is not None:
            host, _, port = self.cassandra.rpartition(":")
            _check(self, "cassandra", bool(host) and port.isdigit(), "must be host:port")

    @property
    def cassandra_address(self) -> tuple[str, int] | None:
        if self.cassandra is None:
            return None
        host, _, port = self.cassandra.rpartition(":")
        return host, int(port)
