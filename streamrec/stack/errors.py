"""Errors of the local stack launcher; every message names the cause and the fix."""

from streamrec.errors import StreamrecError


class StackError(StreamrecError):
    """A stack operation failed in a way the user can act on."""


class PortInUseError(StackError):
    """A port the stack needs is taken by a process that is not ours."""


class ServiceStartError(StackError):
    """A service process exited or never became healthy."""


class MissingToolError(StackError):
    """Java, Maven or a resolved jar is missing."""
