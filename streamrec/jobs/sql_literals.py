"""SQL text for the job's Flink SQL queries: interval and epoch literals."""

from __future__ import annotations


def interval(ms: int) -> str:
    """A SQL day-to-second interval literal (``INTERVAL '300' SECOND`` overflows its
    default two-digit precision)."""
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    text = f"{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
    return f"INTERVAL '{text}' DAY TO SECOND(3)"


def epoch_ms(timestamp: str) -> str:
    """A window bound (TIMESTAMP(3), UTC) as epoch milliseconds (whole seconds)."""
    seconds = f"TIMESTAMPDIFF(SECOND, TIMESTAMP '1970-01-01 00:00:00', {timestamp})"
    return f"CAST({seconds} AS BIGINT) * 1000"
