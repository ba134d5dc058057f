"""Trending items in event time, in Flink SQL: no Python runs per event.

A second Kafka source reads the events topic as raw text; JSON_VALUE picks the fields, a
sliding (HOP) window sums each item's engagement weights per scope (``all``, and
``category:<name>`` for events that carry ``context.category``), a window Top-N keeps the
best ``top_n`` per scope, and a one-slide tumbling window folds each scope's ranks into one
JSON record (contracts.trending). The job publishes those records on the trending topic
and broadcasts them to the scoring operator, which answers new users with them and writes
them to Cassandra.

Event time is the event's own ``ts``, with a watermark ``lateness_ms`` behind the newest
one: an event that late still counts in its windows; a later one is dropped by the window
operator and counted in its ``numLateRecordsDropped`` metric. A partition idle for the
job's ``--idleness-ms`` stops holding the watermark back.

The query applies a subset of the parser's checks (a type with a weight, an item id of at
most 256 chars, a user and event id, a ts inside the parser's age and skew bounds); a
record the parser dead-letters for a subtler reason (a duplicate key, a lone surrogate) may
still count here. A ts outside the bounds is given time 0, which never advances the
watermark, and is filtered before the window, so a ts in year 9999 cannot stall trending.
JSON_VALUE returns NULL on any error, so no record can fail the query.
"""

from __future__ import annotations

from pyflink.table import DataTypes, Schema, StreamTableEnvironment, Table, TableDescriptor

from streamrec.contracts.event import MAX_FUTURE_SKEW_MS, MAX_ID_CHARS
from streamrec.job_config.settings import JobConfig
from streamrec.jobs.sql_literals import epoch_ms, interval

EVENTS_TABLE = "trending_events"
_TS = "TRY_CAST(JSON_VALUE(payload, '$.ts') AS BIGINT)"


def trending_table(t_env: StreamTableEnvironment, config: JobConfig) -> Table:
    """The trending query over the job's events topic: rows of (scope, value JSON)."""
    trending, event_time = config.trending, config.event_time
    settings = t_env.get_config()
    # Window bounds in UTC whatever the TaskManager's zone, so records carry epoch ms.
    settings.set("table.local-time-zone", "UTC")
    settings.set("table.exec.source.idle-timeout", f"{event_time.idleness_ms} ms")
    t_env.create_temporary_table(EVENTS_TABLE, _events_source(config))
    weight = _weight_case(trending.weight_of)
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW trending_engagements AS
        SELECT JSON_VALUE(payload, '$.item_id') AS item_id,
               {_bounded("JSON_VALUE(payload, '$.context.category')")} AS category,
               {weight} AS weight,
               rowtime
        FROM {EVENTS_TABLE}
        WHERE ts_ok
          AND CHAR_LENGTH(JSON_VALUE(payload, '$.item_id')) BETWEEN 1 AND {MAX_ID_CHARS}
          AND JSON_VALUE(payload, '$.user_id') IS NOT NULL
          AND JSON_VALUE(payload, '$.event_id') IS NOT NULL
          AND {weight} > 0
    """)  # fmt: skip
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW trending_items AS
        SELECT window_start, window_end, window_time, item_id,
               CASE WHEN GROUPING(category) = 1 THEN 'all'
                    ELSE 'category:' || category END AS trend_scope,
               SUM(weight) AS score, COUNT(*) AS events
        FROM TABLE(HOP(TABLE trending_engagements, DESCRIPTOR(rowtime),
                       {interval(trending.slide_ms)}, {interval(trending.window_ms)}))
        GROUP BY window_start, window_end, window_time,
                 GROUPING SETS ((item_id), (category, item_id))
        HAVING GROUPING(category) = 1 OR category IS NOT NULL
    """)  # fmt: skip
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW trending_top AS
        SELECT window_start AS hop_start, window_end AS hop_end, window_time AS hop_time,
               trend_scope, item_id, score, events
        FROM (SELECT *, ROW_NUMBER() OVER (
                  PARTITION BY window_start, window_end, trend_scope
                  ORDER BY score DESC, item_id) AS item_rank
              FROM trending_items)
        WHERE item_rank <= {trending.top_n}
    """)  # fmt: skip
    # One record per scope and window: the ranks of one HOP window share its window_time,
    # so a tumbling window of one slide over it holds exactly that window's ranks. The
    # record is concatenated: JSON_ARRAYAGG would store each JSON_OBJECT as a JSON string.
    start, end = epoch_ms("MIN(hop_start)"), epoch_ms("MAX(hop_end)")
    return t_env.sql_query(f"""
        SELECT trend_scope AS `scope`,
               '{{"scope":' || JSON_STRING(trend_scope)
               || ',"window_start":' || CAST({start} AS STRING)
               || ',"window_end":' || CAST({end} AS STRING)
               || ',"items":[' || LISTAGG(JSON_OBJECT(
                      'item_id' VALUE item_id, 'score' VALUE score, 'events' VALUE events), ',')
               || ']}}' AS `value`
        FROM TABLE(TUMBLE(TABLE trending_top, DESCRIPTOR(hop_time),
                          {interval(trending.slide_ms)}))
        GROUP BY window_start, window_end, trend_scope
    """)  # fmt: skip


def _events_source(config: JobConfig) -> TableDescriptor:
    """The events topic as raw text, with the event's ``ts`` as time attribute."""
    max_age_ms = config.event_time.max_event_age_ms
    now_ms = "(UNIX_TIMESTAMP() * 1000)"
    ts_ok = (
        f"{_TS} IS NOT NULL AND {_TS} BETWEEN {now_ms} - {max_age_ms} "
        f"AND {now_ms} + {MAX_FUTURE_SKEW_MS}"
    )
    lateness_ms = config.trending.lateness_ms
    schema = (
        Schema.new_builder()
        .column("payload", DataTypes.STRING())
        .column_by_expression("ts_ok", f"COALESCE({ts_ok}, FALSE)")
        # Out of bounds: time 0, which never moves the watermark; ts_ok filters it out.
        .column_by_expression(
            "rowtime", f"TO_TIMESTAMP_LTZ(CASE WHEN {ts_ok} THEN {_TS} ELSE 0 END, 3)"
        )
        .watermark("rowtime", f"rowtime - {interval(lateness_ms)}")
        .build()
    )
    return (
        TableDescriptor.for_connector("kafka")
        .schema(schema)
        .option("topic", config.topics.events)
        .option("properties.bootstrap.servers", config.bootstrap)
        .option("properties.group.id", f"{config.group_id}-trending")
        # Its own group: a fresh start resumes where this query's last run committed.
        .option("scan.startup.mode", "group-offsets")
        .option("properties.auto.offset.reset", "earliest")
        .option("properties.isolation.level", "read_committed")
        .option("scan.topic-partition-discovery.interval", "60000 ms")
        .option("value.format", "raw")
        .build()
    )


def _weight_case(weights: dict[str, float]) -> str:
    branches = " ".join(
        f"WHEN '{event_type}' THEN CAST({weight!r} AS DOUBLE)"
        for event_type, weight in sorted(weights.items())
    )
    return f"CASE JSON_VALUE(payload, '$.type') {branches} ELSE CAST(0 AS DOUBLE) END"


def _bounded(expression: str) -> str:
    """NULL for a value beyond an id's length (a category is a key and a Cassandra key)."""
    return f"CASE WHEN CHAR_LENGTH({expression}) <= {MAX_ID_CHARS} THEN {expression} END"

