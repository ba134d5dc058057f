"""One status line that updates in place on a terminal, and prints only changes elsewhere."""

from __future__ import annotations

import re
import sys
import time

import click

ELAPSED = re.compile(r" \(\d+ s\)$")


class Progress:
    def __init__(self, every_s: float = 10.0) -> None:
        self.tty = sys.stdout.isatty()
        self.every_s = every_s
        self._last_status = ""
        self._last_print = 0.0
        self._width = 0

    def __call__(self, line: str) -> None:
        if self.tty:
            self._width = max(self._width, len(line))
            click.echo("\r" + line.ljust(self._width), nl=False)
            return
        status = ELAPSED.sub("", line)
        now = time.monotonic()
        if status != self._last_status or now - self._last_print >= self.every_s:
            click.echo(line)
            self._last_status, self._last_print = status, now

    def done(self, line: str) -> None:
        """End the in-place line with a final message on its own line."""
        if self.tty and self._width:
            click.echo("\r" + " " * self._width + "\r", nl=False)
        self._width = 0
        click.echo(line)
