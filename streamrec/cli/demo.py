"""``streamrec demo``: the README's first command, end to end on the local stack.

For now it runs the smoke job (events -> recommendations through Flink with
exactly-once Kafka output); the scoring job replaces it once it lands.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path

import click

from streamrec.cli.errors import user_errors
from streamrec.cli.stack import build_config, stack_options
from streamrec.jobs import smoke
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.errors import StackError
from streamrec.stack.launcher import Stack

JOB_NAME = "streamrec-smoke"
EVENT_TYPES = ("view", "click", "add", "purchase")


def replace_running_job(config: StackConfig) -> str:
    """Cancel an earlier demo job (it resumes from committed offsets) and submit anew."""
    for job in flink_client.jobs_overview(config):
        if job["name"] == JOB_NAME and job["state"] in ("RUNNING", "CREATED", "RESTARTING"):
            click.echo(f"cancelling the previous demo job {job['jid']}")
            flink_client.cancel_job(config, job["jid"])
    job_id = flink_client.submit_python_job(
        config,
        Path(smoke.__file__),
        ["--bootstrap", config.kafka_bootstrap, "--job-name", JOB_NAME],
    )
    deadline = time.monotonic() + 120
    while not flink_client.all_tasks_running(config, job_id):
        if time.monotonic() > deadline:
            raise StackError(
                f"job {job_id} did not reach RUNNING in 120 s; see {config.flink_rest_url}"
            )
        time.sleep(0.5)
    return job_id


def stream_events(config: StackConfig, count: int, rate: float) -> set[str]:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": config.kafka_bootstrap, "linger.ms": 5})
    rng = random.Random()
    run = uuid.uuid4().hex[:6]
    sent: set[str] = set()
    started = time.monotonic()
    for i in range(count):
        user = f"user-{rng.randint(1, 50)}"
        event = {
            "event_id": f"demo-{run}-{i}",
            "user_id": user,
            "item_id": f"item-{rng.randint(1, 500)}",
            "type": rng.choice(EVENT_TYPES),
            "ts": int(time.time() * 1000),
        }
        producer.produce("events", key=user, value=json.dumps(event))
        sent.add(event["event_id"])
        # Pace to the target rate; the progress line shows how far we are.
        ahead = (i + 1) / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
        if (i + 1) % max(1, count // 20) == 0 or i + 1 == count:
            producer.poll(0)
            click.echo(f"\rstreamed {i + 1}/{count} events", nl=False)
    producer.flush(30)
    click.echo()
    return sent


def read_recommendations(
    config: StackConfig, wanted: set[str], timeout_s: float = 60
) -> list[dict]:
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": config.kafka_bootstrap,
            "group.id": f"streamrec-demo-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe(["recommendations"])
    found: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while len(found) < len(wanted) and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None or message.error():
            continue
        record = json.loads(message.value())
        if record.get("event_id") in wanted:
            found.append(record)
    consumer.close()
    return found


@click.command()
@stack_options
@click.option(
    "--events", "count", default=500, show_default=True, help="How many events to stream."
)
@click.option("--rate", default=200.0, show_default=True, help="Events per second.")
@user_errors
def demo(data_dir: Path | None, count: int, rate: float, **ports: int | None) -> None:
    """Start the stack, run the job, stream events, show recommendations."""
    config = build_config(data_dir, **ports)
    Stack(config, echo=click.echo).up()
    job_id = replace_running_job(config)
    click.echo(f"job {job_id} RUNNING")
    sent = stream_events(config, count, rate)
    received = read_recommendations(config, sent)
    click.echo(f"{len(received)}/{len(sent)} recommendations read back (read_committed):")
    for record in received[:5]:
        click.echo(f"  {json.dumps(record)}")
    click.echo(f"\nFlink dashboard: {config.flink_rest_url}/#/job/running/{job_id}/overview")
    click.echo("The job keeps running; stop everything with `streamrec stack down`.")
    if len(received) < len(sent):
        raise StackError(f"only {len(received)} of {len(sent)} recommendations arrived within 60 s")
