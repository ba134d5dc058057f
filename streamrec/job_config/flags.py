"""The recommend job's command line, derived from ``JobConfig``: flags, parser and renderer.

Every field of ``job_config.settings`` names its flag, so the parser (``parser``, ``parse``) and the
renderer that submitters use (``to_args``) come from one table and cannot drift: what
``to_args`` writes, ``parse`` reads back as the same config. Standard library only.
"""

from __future__ import annotations

import argparse
import types
from collections.abc import Iterator, Sequence
from dataclasses import MISSING, Field, dataclass, fields, is_dataclass
from typing import Any, get_args, get_origin, get_type_hints

from streamrec.job_config.settings import JobConfig, JobConfigError


@dataclass(frozen=True)
class Flag:
    """One command-line flag and the config field it sets."""

    path: tuple[str, ...]
    """Attribute names from ``JobConfig`` down to the field, e.g. ``("scoring", "k")``."""
    field: Field[Any]
    kind: type
    """int, float or str: what argparse converts the text to."""
    repeated: bool
    """A tuple field: the flag may be given several times."""

    @property
    def name(self) -> str:
        return str(self.field.metadata["flag"])

    @property
    def dest(self) -> str:
        """argparse's attribute name, as the job's flags always had (``--events-topic`` ->
        ``events_topic``)."""
        return self.name.removeprefix("--").replace("-", "_")


def flags(cls: type = JobConfig, path: tuple[str, ...] = ()) -> Iterator[Flag]:
    """The flags of ``cls`` (``JobConfig`` or one of its groups), groups walked in order."""
    hints = get_type_hints(cls)
    for f in fields(cls):
        hint = hints[f.name]
        if "flag" not in f.metadata:
            yield from flags(hint, (*path, f.name))
            continue
        repeated = get_origin(hint) is tuple
        args = [a for a in get_args(hint) if a not in (type(None), Ellipsis)]
        kind = args[0] if isinstance(hint, types.UnionType) or repeated else hint
        yield Flag((*path, f.name), f, kind, repeated)


def parser(description: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    for flag in flags():
        f = flag.field
        kwargs: dict[str, Any] = {"type": flag.kind, "help": f.metadata["help"] or None}
        if f.metadata["choices"]:
            kwargs["choices"] = f.metadata["choices"]
        if f.metadata["metavar"]:
            kwargs["metavar"] = f.metadata["metavar"]
        if f.default is MISSING:
            kwargs["required"] = True
        elif flag.repeated:
            kwargs.update(action="append", default=list(f.default))
        else:
            kwargs["default"] = f.default
        p.add_argument(flag.name, **kwargs)
    return p


def to_config(namespace: argparse.Namespace) -> JobConfig:
    """The config that parsed flags describe; ``JobConfigError`` if a value is out of range."""
    return _build(JobConfig, (), {flag.path: flag for flag in flags()}, namespace)


def _build(
    cls: type, path: tuple[str, ...], by_path: dict[tuple[str, ...], Flag], ns: argparse.Namespace
) -> Any:
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        flag = by_path.get((*path, f.name))
        if flag is None:
            values[f.name] = _build(hints[f.name], (*path, f.name), by_path, ns)
        else:
            value = getattr(ns, flag.dest)
            values[f.name] = tuple(value) if flag.repeated else value
    return cls(**values)


def parse_namespace(
    argv: Sequence[str] | None = None, description: str | None = None
) -> tuple[argparse.Namespace, JobConfig]:
    """Parse and validate; a bad value exits like argparse does (usage, message, status 2)."""
    p = parser(description)
    namespace = p.parse_args(argv)
    try:
        return namespace, to_config(namespace)
    except JobConfigError as ex:
        p.error(str(ex))
        raise  # unreachable: error() exits


def parse(argv: Sequence[str] | None = None, description: str | None = None) -> JobConfig:
    return parse_namespace(argv, description)[1]


def to_args(config: Any, *, changed_only: bool = False) -> list[str]:
    """Flags that set ``config`` (a ``JobConfig`` or one of its groups) on the job.

    ``changed_only``: only fields that differ from their default, for submitters that add
    a few settings to what the stack passes (``ops.lifecycle``). None is never rendered: no
    flag sets a field to None, the default does.
    """
    if not is_dataclass(config):
        raise TypeError(f"expected JobConfig or one of its groups, got {type(config).__name__}")
    args: list[str] = []
    for flag in flags(type(config)):
        value = config
        for name in flag.path:
            value = getattr(value, name)
        if value is None or (changed_only and value == flag.field.default):
            continue
        for item in value if flag.repeated else (value,):
            args += [flag.name, str(item)]
    return args
