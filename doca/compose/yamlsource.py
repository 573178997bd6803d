"""Reading a compose file into plain Python values while keeping, for every key path, the line
it came from, so that later errors can point at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from doca.compose.errors import ComposeError

try:  # libyaml's parser is several times faster; the pure one gives the same nodes
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader

KeyPath = tuple[str | int, ...]


@dataclass
class Source:
    """One parsed compose file: its values and the 1-based line of every key path in it."""

    path: Path
    data: dict[str, Any]
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, key: KeyPath) -> int | None:
        """The line of ``key`` or of its nearest ancestor the file has."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None

    def error(self, key: KeyPath, message: str) -> ComposeError:
        return ComposeError(message, str(self.path), self.line_of(key), dotted(key))


def dotted(key: KeyPath) -> str:
    return ".".join(str(part) for part in key)


def read_source(path: Path) -> Source:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ComposeError(exc.strerror or str(exc), str(path)) from exc
    return parse_source(text, path)


def parse_source(text: str, path: Path) -> Source:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ComposeError(f"yaml: {exc.problem}", str(path), line) from exc
    except yaml.YAMLError as exc:
        raise ComposeError(f"yaml: {exc}", str(path)) from exc
    source = Source(path, {})
    if node is None:
        return source
    builder = _Builder(source)
    data = builder.value(node, ())
    if not isinstance(data, dict):
        raise ComposeError("Top-level object must be a mapping", str(path), 1)
    source.data = data
    return source


class _Builder:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.constructor = yaml.constructor.SafeConstructor()

    def value(self, node: yaml.Node, key: KeyPath) -> Any:
        self.source.lines.setdefault(key, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            self.constructor.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                name = self.constructor.construct_object(key_node, deep=True)
                if not isinstance(name, str | int | float | bool):
                    raise self.source.error(key, "mapping keys must be strings")
                name = _key_text(name)
                if name in out:
                    raise ComposeError(
                        f'mapping key "{name}" already defined',
                        str(self.source.path),
                        key_node.start_mark.line + 1,
                        dotted(key),
                    )
                self.source.lines[(*key, name)] = key_node.start_mark.line + 1
                out[name] = self.value(value_node, (*key, name))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*key, index)) for index, item in enumerate(node.value)]
        return self.constructor.construct_object(node, deep=True)


def _key_text(name: object) -> str:
    if isinstance(name, bool):
        return "true" if name else "false"
    return str(name)
