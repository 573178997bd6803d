"""A JSON document as a tree of nodes (key, value, type) for the inspect view, and the filter it
offers: a node is shown when its key or value contains the text, or when one of its descendants
does (so the path to every match stays visible)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def value_text(value: Any) -> str:
    """What the value column shows: scalars as JSON spells them (strings without quotes), and
    a count for objects and arrays."""
    if isinstance(value, dict):
        return f"{{{len(value)} {'key' if len(value) == 1 else 'keys'}}}"
    if isinstance(value, list):
        return f"[{len(value)} {'item' if len(value) == 1 else 'items'}]"
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


@dataclass(eq=False)
class JsonNode:
    key: str
    value: Any
    parent: JsonNode | None = None
    row: int = 0  # the index among the parent's children
    children: list[JsonNode] = field(default_factory=list)

    @property
    def type(self) -> str:
        return json_type(self.value)

    @property
    def text(self) -> str:
        return value_text(self.value)

    @property
    def path(self) -> str:
        """Where the node is, e.g. ``Config.Env[0]`` (empty for the root)."""
        if self.parent is None:
            return ""
        parent = self.parent.path
        if self.parent.type == "array":
            return f"{parent}{self.key}"
        return f"{parent}.{self.key}" if parent else self.key

    def matches(self, needle: str) -> bool:
        """Whether the key or a scalar value contains ``needle`` (lower-case), ignoring case."""
        if needle in self.key.lower():
            return True
        return not self.children and needle in self.text.lower()

    def to_json(self) -> str:
        return orjson.dumps(self.value, option=orjson.OPT_INDENT_2).decode()


def build_tree(document: Any) -> JsonNode:
    """The root node (key ``""``) of ``document``; array items are keyed ``[0]``, ``[1]`` …"""
    root = JsonNode("", document)
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node.value, dict):
            items = [(str(key), value) for key, value in node.value.items()]
        elif isinstance(node.value, list):
            items = [(f"[{index}]", value) for index, value in enumerate(node.value)]
        else:
            continue
        node.children = [JsonNode(key, value, node, row) for row, (key, value) in enumerate(items)]
        stack.extend(node.children)
    return root


def visible_nodes(root: JsonNode, text: str) -> set[JsonNode]:
    """The nodes the filter ``text`` shows: matches, their ancestors and their descendants
    (every node for an empty filter)."""
    needle = text.strip().lower()
    shown: set[JsonNode] = set()

    def show_subtree(node: JsonNode) -> None:
        stack = [node]
        while stack:
            current = stack.pop()
            shown.add(current)
            stack.extend(current.children)

    def walk(node: JsonNode) -> bool:
        if not needle or node.matches(needle):
            show_subtree(node)
            return True
        found = False
        for child in node.children:
            found = walk(child) or found
        if found:
            shown.add(node)
        return found

    walk(root)
    return shown
