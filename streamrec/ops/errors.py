"""Errors of job operations; each says which job, what state it is in, and what to do."""

from streamrec.errors import StreamrecError


class JobOperationError(StreamrecError):
    """A deploy, savepoint, upgrade or rescale failed."""


class JobNotRunningError(JobOperationError):
    """The named job is not running (or not every task of it is)."""
