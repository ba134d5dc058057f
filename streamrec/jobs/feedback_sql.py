"""Feedback joined to the recommendations it answers, in Flink SQL: no Python per event.

Clients report ``impression``, ``click``, ``add`` and ``purchase`` events whose
``context.rec_id`` is the recommendation's ``event_id`` (the id every recommendation
carries). The query reads the job's own recommendations back from Kafka (read_committed:
only what the job committed) and joins each feedback event to its recommendation in event
time: an interval join on the id, the feedback at most one minute before the recommendation
was emitted (clock skew) and at most ``--feedback-horizon-ms`` after; the join keeps a
recommendation in state for the horizon and no longer. Per window (one minute) and per
(model version, rules version, strategy) it counts each feedback type and the CTR (clicks
/ impressions), one JSON record each on the feedback topic (key = model version).

Feedback that matches no recommendation within the horizon is not lost: the join is a left
outer join, so it is counted under ``model_version: "unmatched"`` once the recommendations'
watermark has passed it. Feedback later than ``--feedback-lateness-ms`` behind its own
watermark is dropped and counted by the join's ``numLateRecordsDropped``.

Hit rate, the other half of the feedback records, is jobs.hit_rate_sql.
"""

from __future__ import annotations

import time

from pyflink.table import DataTypes, Schema, StreamTableEnvironment, Table, TableDescriptor

from streamrec.contracts.event import MAX_ID_CHARS
from streamrec.job_config.settings import JobConfig
from streamrec.jobs.sql_literals import epoch_ms, interval
from streamrec.jobs.trending_sql import EVENTS_TABLE

RECS_TABLE = "feedback_recommendations"
FEEDBACK_TYPES = ("impression", "click", "add", "purchase")
UNMATCHED = "unmatched"
CLOCK_SKEW_MS = 60_000
"""Feedback stamped up to a minute before its recommendation was emitted still joins."""
RECOMMENDATION_NAMES = """JSON_VALUE(payload, '$.event_id') AS rec_id,
               COALESCE(JSON_VALUE(payload, '$.model_version'), 'unknown') AS model_version,
               COALESCE(JSON_VALUE(payload, '$.rules_version'), 'none') AS rules_version,
               COALESCE(JSON_VALUE(payload, '$.strategy'), 'model') AS strategy"""
"""A recommendation's id and what answered it, from a record of the recommendations topic."""
WINDOW_NAMES = f"""'model_version' VALUE model_version,
                   'rules_version' VALUE rules_version,
                   'strategy' VALUE strategy,
                   'window_start' VALUE {epoch_ms("window_start")},
                   'window_end' VALUE {epoch_ms("window_end")}"""
"""The keys every feedback record starts with (contracts.feedback)."""


def feedback_table(t_env: StreamTableEnvironment, config: JobConfig) -> Table:
    """Rows of (model_version, value JSON): the feedback counts per window and version.

    Needs the events table that ``trending_sql.trending_table`` registers."""
    feedback = config.feedback
    t_env.create_temporary_table(RECS_TABLE, _recommendations_source(config))
    types = ", ".join(f"'{t}'" for t in FEEDBACK_TYPES)
    rec_id = "JSON_VALUE(payload, '$.context.rec_id')"
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW feedback_events AS
        SELECT {rec_id} AS rec_id, JSON_VALUE(payload, '$.type') AS feedback_type, rowtime
        FROM {EVENTS_TABLE}
        WHERE ts_ok AND JSON_VALUE(payload, '$.type') IN ({types})
          AND CHAR_LENGTH({rec_id}) BETWEEN 1 AND {MAX_ID_CHARS}
          AND JSON_VALUE(payload, '$.user_id') IS NOT NULL
    """)  # fmt: skip
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW served_recommendations AS
        SELECT {RECOMMENDATION_NAMES},
               rec_time
        FROM {RECS_TABLE}
        WHERE JSON_VALUE(payload, '$.event_id') IS NOT NULL
    """)  # fmt: skip
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW joined_feedback AS
        SELECT f.feedback_type, f.rowtime,
               COALESCE(r.model_version, '{UNMATCHED}') AS model_version,
               COALESCE(r.rules_version, '{UNMATCHED}') AS rules_version,
               COALESCE(r.strategy, '{UNMATCHED}') AS strategy
        FROM feedback_events f LEFT JOIN served_recommendations r
          ON f.rec_id = r.rec_id
         AND f.rowtime BETWEEN r.rec_time - {interval(CLOCK_SKEW_MS)}
                           AND r.rec_time + {interval(feedback.horizon_ms)}
    """)  # fmt: skip
    counts = {t: f"SUM(CASE WHEN feedback_type = '{t}' THEN 1 ELSE 0 END)" for t in FEEDBACK_TYPES}
    ctr = (
        f"CASE WHEN {counts['impression']} > 0 THEN "
        f"CAST({counts['click']} AS DOUBLE) / {counts['impression']} END"
    )
    return t_env.sql_query(f"""
        SELECT model_version, JSON_OBJECT(
                   {WINDOW_NAMES},
                   'impressions' VALUE {counts['impression']},
                   'clicks' VALUE {counts['click']},
                   'adds' VALUE {counts['add']},
                   'purchases' VALUE {counts['purchase']},
                   'ctr' VALUE {ctr}
               ) AS `value`
        FROM TABLE(TUMBLE(TABLE joined_feedback, DESCRIPTOR(rowtime),
                          {interval(feedback.window_ms)}))
        GROUP BY window_start, window_end, model_version, rules_version, strategy
    """)  # fmt: skip


def _recommendations_source(config: JobConfig) -> TableDescriptor:
    """The job's recommendations, read back with their emission time as time attribute."""
    emitted = "TRY_CAST(JSON_VALUE(payload, '$.emitted_ts') AS BIGINT)"
    schema = (
        Schema.new_builder()
        .column("payload", DataTypes.STRING())
        .column_by_expression("rec_time", f"TO_TIMESTAMP_LTZ(COALESCE({emitted}, 0), 3)")
        .watermark("rec_time", f"rec_time - {interval(config.feedback.lateness_ms)}")
        .build()
    )
    # A fresh start reads back one horizon of recommendations (older ones can no longer
    # be joined); a restore resumes from the checkpoint's offsets.
    since = int(time.time() * 1000) - config.feedback.horizon_ms
    return (
        TableDescriptor.for_connector("kafka")
        .schema(schema)
        .option("topic", config.topics.recommendations)
        .option("properties.bootstrap.servers", config.bootstrap)
        .option("properties.group.id", f"{config.group_id}-feedback")
        .option("scan.startup.mode", "timestamp")
        .option("scan.startup.timestamp-millis", str(since))
        .option("properties.isolation.level", "read_committed")
        .option("scan.topic-partition-discovery.interval", "60000 ms")
        .option("value.format", "raw")
        .build()
    )
