"""Strict readers for JSON a package declares: exact types, bounded numbers, known names.

Nothing here coerces (``int("5")`` or ``int(5.7)`` would hide a malformed manifest), and
every failure is an InvalidManifestError naming the field, so a hostile manifest is data.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streamrec.model_package.errors import InvalidManifestError

ACTIVATIONS = frozenset({"relu", "gelu", "tanh", "sigmoid", "silu", "elu", "selu", "linear"})
"""Built-in Keras activations a declared layer may name; anything else is refused."""
MAX_UNITS = 4096
"""Width of one declared Dense layer."""
MAX_HIDDEN_LAYERS = 8

# A backslash pair is one token, so an escaped quote never toggles "inside a string".
_JSON_TOKENS = re.compile(rb'\\.|["\[\]{}]', re.DOTALL)


def parse_json(data: bytes, what: str, max_depth: int) -> Any:
    """Parse JSON whose nesting is at most ``max_depth``; NaN and Infinity are refused.

    Depth is counted before parsing so that ``[[[...]]]`` 10,000 deep costs a scan, not a
    RecursionError from the parser.
    """
    depth, in_string = 0, False
    for token in _JSON_TOKENS.finditer(data):  # linear: no backtracking on hostile quoting
        ch = token.group()
        if ch == b'"':
            in_string = not in_string
        elif in_string or len(ch) == 2:
            continue
        elif ch in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise InvalidManifestError(f"{what} nests deeper than {max_depth}")
        else:
            depth -= 1
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as ex:  # UnicodeDecodeError is a ValueError
        raise InvalidManifestError(f"{what} is not JSON: {ex}") from ex


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def get(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise InvalidManifestError(f"{where}: field {key!r} is missing")
    return data[key]


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidManifestError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def only_keys(data: Mapping[str, Any], allowed: set[str] | frozenset[str], where: str) -> None:
    extra = sorted(str(k) for k in data if k not in allowed)
    if extra:
        raise InvalidManifestError(f"{where}: unknown field(s) {', '.join(extra[:5])}")


def architecture(
    value: Any, allowed: frozenset[str], kind: str, where: str
) -> dict[str, Any]:
    """An architecture's spec object: only ``allowed`` keys, and ``kind`` naming the one
    architecture this code builds (the allow-list a package cannot step outside)."""
    data = obj(value, where)
    only_keys(data, allowed, where)
    if data.get("kind") != kind:
        raise InvalidManifestError(f"{where}: kind must be {kind!r}")
    return data


def integer(data: Mapping[str, Any], key: str, lo: int, hi: int, where: str) -> int:
    value = get(data, key, where)
    if type(value) is not int:  # bool is an int subclass; it is not a count
        raise InvalidManifestError(f"{where}: {key} must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise InvalidManifestError(f"{where}: {key}={_short(value)} is outside [{lo}, {hi}]")
    return value


def number(value: Any, where: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise InvalidManifestError(f"{where}: expected a finite number, got {_short(value)}")
    return float(value)


def text(value: Any, max_chars: int, where: str, *, allow_empty: bool = False) -> str:
    """A string that a later Kafka, Cassandra or metric write can carry: valid UTF-8 (no
    lone surrogates, which JSON escapes can produce), no control characters, bounded."""
    if not isinstance(value, str):
        raise InvalidManifestError(f"{where}: expected a string, got {type(value).__name__}")
    if not allow_empty and not value:
        raise InvalidManifestError(f"{where}: is empty")
    if len(value) > max_chars:
        raise InvalidManifestError(f"{where}: longer than {max_chars} characters")
    if not value.isprintable():
        raise InvalidManifestError(f"{where}: contains control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as ex:
        raise InvalidManifestError(f"{where}: not valid UTF-8 ({ex.reason})") from ex
    return value


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else f"{shown[:37]}..."


@dataclass(frozen=True)
class DenseSpec:
    """One Dense layer of a declared architecture."""

    units: int
    activation: str = "linear"

    def __post_init__(self) -> None:
        # Training builds these too: refuse there what the loader would refuse.
        if not 1 <= self.units <= MAX_UNITS or self.activation not in ACTIVATIONS:
            raise ValueError(f"unsupported Dense layer {self.units} units, {self.activation!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"units": self.units, "activation": self.activation}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> DenseSpec:
        data = obj(data, where)
        only_keys(data, {"units", "activation"}, where)
        units = integer(data, "units", 1, MAX_UNITS, where)
        activation = get(data, "activation", where)
        if activation not in ACTIVATIONS:
            raise InvalidManifestError(
                f"{where}: activation {_short(activation)} is not one of {sorted(ACTIVATIONS)}"
            )
        return cls(units, activation)


def dense_stack(value: Any, where: str) -> tuple[DenseSpec, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_HIDDEN_LAYERS:
        raise InvalidManifestError(f"{where}: expected a list of 1 to {MAX_HIDDEN_LAYERS} layers")
    return tuple(DenseSpec.from_dict(layer, f"{where}[{i}]") for i, layer in enumerate(value))


def hidden_layers_of(model: Any, prefix: str) -> tuple[tuple[DenseSpec, ...], dict[str, Any]]:
    """The Dense layers ``<prefix>0, <prefix>1, ...`` of a model built from a spec, read
    back as DenseSpecs (for packaging), and the model's layers by name."""
    layers = {layer.name: layer for layer in model.layers}
    hidden: list[DenseSpec] = []
    while f"{prefix}{len(hidden)}" in layers:
        config = layers[f"{prefix}{len(hidden)}"].get_config()
        hidden.append(DenseSpec(int(config["units"]), str(config["activation"])))
    return tuple(hidden), layers


def check_weight_shapes(model: Any, spec: Any, what: str) -> None:
    """Fail when a model's weights are not exactly what its spec declares."""
    actual = [tuple(w.shape) for w in model.weights]
    if actual != spec.weight_shapes():
        raise ValueError(f"{what} weights {actual} do not follow its spec {spec}")
