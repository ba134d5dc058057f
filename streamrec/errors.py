"""The root of every error streamrec raises on purpose.

Each package adds its own subclasses; callers that only want to know "this is a
streamrec problem with a message for a human" catch :class:`StreamrecError`.
"""


class StreamrecError(Exception):
    """Base class for all errors raised deliberately by streamrec."""
