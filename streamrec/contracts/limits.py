"""Kafka record size limits shared by the stack's broker, the job's producers and the DLQ.

One number, so that nothing the job may write is refused by the broker: a producer that
builds a record larger than the broker accepts fails the whole transaction, and with it
the job (the restart loop that the "no record stops the job" rule forbids).
"""

from __future__ import annotations

# Kafka's own default for a producer request (max.request.size = 1,048,576 bytes). The
# broker's message.max.bytes counts a record batch with its 12 bytes of log overhead, so
# it is set to this plus 12 (Kafka's default of 1,048,588).
MAX_RECORD_BYTES = 1024 * 1024
BROKER_MESSAGE_MAX_BYTES = MAX_RECORD_BYTES + 12
