"""The inspect view's JSON tree: nodes, the filter, and the Qt model and proxy over them."""

from __future__ import annotations

from typing import Any

import orjson
from PySide6.QtCore import QModelIndex, Qt
from pytestqt.qtbot import QtBot

from desktop_app.qtmodels.json_tree import JsonFilterProxy, JsonTreeModel
from desktop_app.state.json_tree import build_tree, json_type, value_text, visible_nodes

DOCUMENT: dict[str, Any] = {
    "Id": "4fa6e0f0c678",
    "Name": "/web",
    "State": {"Running": True, "Pid": 4242, "Error": ""},
    "Config": {"Env": ["PATH=/usr/bin", "GREETING=hello"], "Cmd": None, "Tty": False},
    "RestartCount": 0,
}


def test_types_and_value_texts() -> None:
    assert [json_type(v) for v in (None, True, 3, 1.5, "x", [], {})] == [
        "null", "boolean", "number", "number", "string", "array", "object"
    ]  # fmt: skip
    assert value_text("plain") == "plain"
    assert value_text(None) == "null" and value_text(False) == "false" and value_text(7) == "7"
    assert value_text({"a": 1}) == "{1 key}" and value_text([1, 2]) == "[2 items]"


def test_tree_nodes_keys_and_paths() -> None:
    root = build_tree(DOCUMENT)
    assert [c.key for c in root.children] == ["Id", "Name", "State", "Config", "RestartCount"]
    config = root.children[3]
    env = config.children[0]
    assert (env.key, env.type, env.text) == ("Env", "array", "[2 items]")
    assert [c.key for c in env.children] == ["[0]", "[1]"]
    assert env.children[1].path == "Config.Env[1]" and env.children[1].row == 1
    assert env.children[1].parent is env
    assert orjson.loads(root.to_json()) == DOCUMENT


def test_filter_keeps_matches_their_ancestors_and_descendants() -> None:
    root = build_tree(DOCUMENT)
    shown = visible_nodes(root, "greeting")
    keys = sorted(node.path for node in shown)
    assert keys == ["", "Config", "Config.Env", "Config.Env[1]"]
    shown = visible_nodes(root, "STATE")  # a key, any case: its whole subtree comes along
    assert sorted(n.path for n in shown) == [
        "",
        "State",
        "State.Error",
        "State.Pid",
        "State.Running",
    ]
    assert len(visible_nodes(root, "")) == len(visible_nodes(root, "   "))
    assert visible_nodes(root, "no such text") == set()
    assert {n.path for n in visible_nodes(root, "4242")} == {"", "State", "State.Pid"}


def _rows(model: Any, parent: QModelIndex | None = None) -> list[tuple[str, str, str]]:
    parent = parent or QModelIndex()
    return [
        tuple(model.index(row, column, parent).data() for column in range(3))  # type: ignore[misc]
        for row in range(model.rowCount(parent))
    ]


def test_model_shows_key_value_type_and_the_proxy_filters(qtbot: QtBot) -> None:
    model = JsonTreeModel()
    assert model.rowCount() == 0
    model.set_document(DOCUMENT)
    assert _rows(model)[:2] == [("Id", "4fa6e0f0c678", "string"), ("Name", "/web", "string")]
    assert [model.headerData(i, Qt.Orientation.Horizontal) for i in range(3)] == [
        "Key", "Value", "Type"
    ]  # fmt: skip
    config = model.index(3, 0)
    env = model.index(0, 0, config)
    assert _rows(model, env) == [
        ("[0]", "PATH=/usr/bin", "string"),
        ("[1]", "GREETING=hello", "string"),
    ]
    assert model.parent(env) == config and not model.parent(config).isValid()
    assert model.index(0, 0, env).data(Qt.ItemDataRole.ToolTipRole) == "Config.Env[0]"
    assert model.rowCount(model.index(3, 1)) == 0  # only the first column has children

    proxy = JsonFilterProxy(model)
    proxy.set_text("greet")
    assert _rows(proxy) == [("Config", "{3 keys}", "object")]
    proxy_env = proxy.index(0, 0, proxy.index(0, 0))
    assert _rows(proxy, proxy_env) == [("[1]", "GREETING=hello", "string")]
    proxy.set_text("")
    assert proxy.rowCount() == 5
    proxy.set_text("running")
    model.set_document({"Other": 1})  # a new document is filtered with the same text
    assert proxy.rowCount() == 0
