"""Hit rate@k per model version, in Flink SQL: did the user engage with what it was shown?

A left interval join matches each of the job's recommendations (read back from Kafka, as
jobs.feedback_sql does) to the same user's engagements (view, click, add, purchase) after
the event it answered and within ``--feedback-horizon-ms`` of its emission, on one of its
first ``--feedback-hit-k`` items. A recommendation with at least one such engagement is a
hit. Per window (by emission time) and per (model version, rules version, strategy) the
query writes one record on the feedback topic: ``recommendations`` (distinct ids),
``hits`` and ``hit_rate``. It needs no client to report impressions: users' own events
are the evidence.

Its own query, translated after the feedback counts: the plan numbers operators in
translation order and their uids carry the number, so a job that had only the counts keeps
its operators' uids and state (tests/unit/jobs/test_graph_uids.py).
"""

from __future__ import annotations

from pyflink.table import StreamTableEnvironment, Table

from streamrec.contracts.event import MAX_ID_CHARS
from streamrec.job_config.settings import JobConfig
from streamrec.jobs.feedback_sql import (
    CLOCK_SKEW_MS,
    RECOMMENDATION_NAMES,
    RECS_TABLE,
    WINDOW_NAMES,
)
from streamrec.jobs.sql_literals import interval
from streamrec.jobs.trending_sql import EVENTS_TABLE

ENGAGEMENT_TYPES = ("view", "click", "add", "purchase")
"""What counts as engaging with an item (an impression is being shown one, not engaging)."""


def hit_rate_table(t_env: StreamTableEnvironment, config: JobConfig) -> Table:
    """Rows of (model_version, value JSON): hit rate@k per window and version.

    Needs the tables that ``trending_sql.trending_table`` and ``feedback_sql.feedback_table``
    register."""
    feedback = config.feedback
    types = ", ".join(f"'{t}'" for t in ENGAGEMENT_TYPES)
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW hit_recommendations AS
        SELECT {RECOMMENDATION_NAMES},
               JSON_VALUE(payload, '$.user_id') AS user_id,
               TRY_CAST(JSON_VALUE(payload, '$.event_ts') AS BIGINT) AS event_ts,
               JSON_QUERY(payload, '$.items[0:{feedback.hit_k}].item_id'
                          RETURNING ARRAY<STRING>) AS top_items,
               rec_time
        FROM {RECS_TABLE}
        WHERE JSON_VALUE(payload, '$.event_id') IS NOT NULL
    """)  # fmt: skip
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW hit_engagements AS
        SELECT JSON_VALUE(payload, '$.user_id') AS user_id,
               JSON_VALUE(payload, '$.item_id') AS item_id,
               TRY_CAST(JSON_VALUE(payload, '$.ts') AS BIGINT) AS ts,
               rowtime
        FROM {EVENTS_TABLE}
        WHERE ts_ok AND JSON_VALUE(payload, '$.type') IN ({types})
          AND CHAR_LENGTH(JSON_VALUE(payload, '$.item_id')) BETWEEN 1 AND {MAX_ID_CHARS}
          AND CHAR_LENGTH(JSON_VALUE(payload, '$.user_id')) BETWEEN 1 AND {MAX_ID_CHARS}
    """)  # fmt: skip
    # Strictly after the answered event (never the trigger itself), within the horizon of
    # the emission (and the feedback join's clock skew before it), on one of the first k.
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW served_hits AS
        SELECT r.rec_id, r.model_version, r.rules_version, r.strategy, r.rec_time,
               e.user_id IS NOT NULL AS hit
        FROM hit_recommendations r LEFT JOIN hit_engagements e
          ON r.user_id = e.user_id
         AND e.rowtime BETWEEN r.rec_time - {interval(CLOCK_SKEW_MS)}
                           AND r.rec_time + {interval(feedback.horizon_ms)}
         AND e.ts > r.event_ts
         AND ARRAY_CONTAINS(r.top_items, e.item_id)
    """)  # fmt: skip
    # Distinct ids: a list with several engaged items is one hit, and an at-least-once
    # job's replayed record is one recommendation.
    served, hits = "COUNT(DISTINCT rec_id)", "COUNT(DISTINCT CASE WHEN hit THEN rec_id END)"
    return t_env.sql_query(f"""
        SELECT model_version, JSON_OBJECT(
                   {WINDOW_NAMES},
                   'recommendations' VALUE {served},
                   'hits' VALUE {hits},
                   'hit_k' VALUE {feedback.hit_k},
                   'hit_rate' VALUE CAST({hits} AS DOUBLE) / {served}
               ) AS `value`
        FROM TABLE(TUMBLE(TABLE served_hits, DESCRIPTOR(rec_time),
                          {interval(feedback.window_ms)}))
        GROUP BY window_start, window_end, model_version, rules_version, strategy
    """)  # fmt: skip
