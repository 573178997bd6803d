"""Interpolating a whole parsed compose file: every string value, in place, with errors that
name the file, line and key of the value at fault."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from doca.compose.interpolation import InterpolationError, interpolate
from doca.compose.yamlsource import KeyPath, Source, dotted

Warn = Callable[[str], None]


def interpolate_source(source: Source, env: Mapping[str, str], warn: Warn | None) -> None:
    """Substitute variables from ``env`` in every string of ``source`` (keys are left as
    written, as Compose does); ``warn`` hears of each variable used without a value."""
    _interpolate_tree(source, source.data, (), env, warn)


def _interpolate_tree(
    source: Source, node: Any, key: KeyPath, env: Mapping[str, str], warn: Warn | None
) -> Any:
    def missing(name: str) -> None:
        if warn:
            warn(f'The "{name}" variable is not set. Defaulting to a blank string.')

    if isinstance(node, dict):
        for name, value in node.items():
            node[name] = _interpolate_tree(source, value, (*key, name), env, warn)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            node[index] = _interpolate_tree(source, value, (*key, index), env, warn)
    elif isinstance(node, str):
        try:
            return interpolate(node, env, missing)
        except InterpolationError as exc:
            message = str(exc)
            if message.startswith("invalid interpolation format"):
                message = (f"invalid interpolation format for {dotted(key)}: {node!r}; "
                           "you may need to escape any $ with another $")  # fmt: skip
            raise source.error(key, message) from exc
    return node
