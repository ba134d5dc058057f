"""The ``streamrec`` command: one group per noun, each in its own module."""

from __future__ import annotations

import click

from streamrec.cli.bench import bench
from streamrec.cli.demo import demo
from streamrec.cli.evaluate import evaluate
from streamrec.cli.job import job
from streamrec.cli.model import model
from streamrec.cli.online_check import online_check
from streamrec.cli.simulate import simulate
from streamrec.cli.stack import stack


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="streamrec")
def cli() -> None:
    """Real-time personalization on Apache Flink."""


cli.add_command(stack)
model.add_command(evaluate)
model.add_command(online_check)
cli.add_command(model)
cli.add_command(demo)
cli.add_command(job)
cli.add_command(bench)
cli.add_command(simulate)
