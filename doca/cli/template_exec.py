"""Executing a parsed template against a value, as Go's text/template does, with its error
messages (``template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type …``)."""

from __future__ import annotations

import inspect
from collections.abc import Container, Mapping, Sequence
from typing import Any

from doca.cli.template_funcs import ANY, INT, STRING, STRINGS, Function, FunctionError
from doca.cli.template_nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    ChainNode,
    CommandNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    ListNode,
    LoopControlNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    StringNode,
    TextNode,
    VariableNode,
)
from doca.cli.template_values import (
    NO_VALUE,
    TemplateError,
    TemplateObject,
    format_value,
    go_type,
    is_struct,
    is_true,
)


class TemplateExecError(TemplateError):
    """A template that fails on its data; ``str()`` is Go's message."""


class _Missing:
    """No value piped into a command (Go's ``missingVal``)."""


MISSING: Any = _Missing()
_CONSTANTS = (BoolNode, NumberNode, StringNode, NilNode)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class State:
    def __init__(
        self,
        text: str,
        name: str,
        functions: Mapping[str, Function],
        dot: object,
        missing_key_error: bool = False,
        known_fields: Container[str] = frozenset(),
    ) -> None:
        self.missing_key_error = missing_key_error
        self.known_fields = known_fields
        self.text = text
        self.name = name
        self.functions = functions
        self.vars: list[tuple[str, object]] = [("$", dot)]
        self.node: Node | None = None
        self.out: list[str] = []

    # -- errors -----------------------------------------------------------------------------
    def error(self, message: str) -> TemplateExecError:
        if self.node is None:
            return TemplateExecError(f"template: {self.name}: {message}")
        pos = self.node.pos
        before = self.text[:pos]
        line = 1 + before.count("\n")
        column = pos - (before.rfind("\n") + 1) if "\n" in before else pos
        context = str(self.node)
        return TemplateExecError(
            f"template: {self.name}:{line}:{column}: executing {_quote(self.name)} at "
            f"<{context}>: {message}"
        )

    # -- statements -------------------------------------------------------------------------
    def walk(self, dot: object, node: Node) -> None:
        self.node = node
        if isinstance(node, ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, TextNode):
            self.out.append(node.text)
        elif isinstance(node, ActionNode):
            value = self.pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.out.append(self.printable(value))
        elif isinstance(node, BranchNode):
            if node.kind == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_or_with(dot, node)
        elif isinstance(node, LoopControlNode):
            raise _Break() if node.kind == "break" else _Continue()

    def printable(self, value: object) -> str:
        if isinstance(value, TemplateObject) or not callable(value):
            return format_value(value)
        raise self.error(f"can't print {value!r} of type func")

    def walk_if_or_with(self, dot: object, node: BranchNode) -> None:
        mark = len(self.vars)
        try:
            value = self.pipeline(dot, node.pipe)
            if is_true(value):
                self.walk(value if node.kind == "with" else dot, node.body)
            elif node.else_body is not None:
                self.walk(dot, node.else_body)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot: object, node: BranchNode) -> None:
        mark = len(self.vars)
        try:
            items = self.range_items(self.pipeline(dot, node.pipe))
            top = len(self.vars)
            names = [variable.idents[0] for variable in node.pipe.decl]
            for key, item in items:
                if len(names) == 1:
                    self.vars[top - 1] = (names[0], item)
                elif len(names) == 2:
                    self.vars[top - 2 : top] = [(names[0], key), (names[1], item)]
                try:
                    self.walk(item, node.body)
                except _Continue:
                    pass
                except _Break:
                    break
                finally:
                    del self.vars[top:]
            if not items and node.else_body is not None:
                self.walk(dot, node.else_body)
        finally:
            del self.vars[mark:]

    def range_items(self, value: object) -> list[tuple[object, object]]:
        if value is None:
            return []
        if isinstance(value, Mapping):
            return [(key, value[key]) for key in sorted(value)]
        if isinstance(value, list | tuple):
            return list(enumerate(value))
        if isinstance(value, int) and not isinstance(value, bool):
            return [(i, i) for i in range(value)]
        raise self.error(f"range can't iterate over {format_value(value)}")

    # -- expressions ------------------------------------------------------------------------
    def pipeline(self, dot: object, pipe: PipeNode) -> object:
        self.node = pipe
        value: object = MISSING
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        for variable in pipe.decl:
            name = variable.idents[0]
            if pipe.is_assign:
                self.assign(name, value)
            else:
                self.vars.append((name, value))
        return value

    def assign(self, name: str, value: object) -> None:
        for index in range(len(self.vars) - 1, -1, -1):
            if self.vars[index][0] == name:
                self.vars[index] = (name, value)
                return
        raise self.error(f"undefined variable: {name}")

    def variable(self, name: str) -> object:
        for var_name, value in reversed(self.vars):
            if var_name == name:
                return value
        raise self.error(f"undefined variable: {name}")

    def command(self, dot: object, cmd: CommandNode, final: object) -> object:
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            self.node = first
            return self.field_chain(dot, dot, first.idents, cmd.args, final)
        if isinstance(first, ChainNode):
            self.node = first
            if len(first.fields) == 0:
                raise self.error("internal error: no fields in evalChainNode")
            receiver = self.arg(dot, first.node)
            return self.field_chain(dot, receiver, first.fields, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.function(dot, first, cmd, final)
        if isinstance(first, VariableNode):
            self.node = first
            value = self.variable(first.idents[0])
            if len(first.idents) == 1:
                self.not_a_function(cmd.args, final)
                return value
            return self.field_chain(dot, value, first.idents[1:], cmd.args, final)
        if isinstance(first, PipeNode):
            self.not_a_function(cmd.args, final)
            return self.pipeline(dot, first)
        self.node = first
        self.not_a_function(cmd.args, final)
        return self.constant(first, dot)

    def not_a_function(self, args: Sequence[Node], final: object) -> None:
        if len(args) > 1 or final is not MISSING:
            raise self.error(f"can't give argument to non-function {args[0]}")

    def constant(self, node: Node, dot: object) -> object:
        if isinstance(node, DotNode):
            return dot
        if isinstance(node, NilNode):
            raise self.error("nil is not a command")
        if isinstance(node, BoolNode | NumberNode | StringNode):
            return node.value
        raise self.error(f"can't evaluate command {node}")

    def field_chain(
        self, dot: object, receiver: object, idents: Sequence[str], args: Sequence[Node],
        final: object,
    ) -> object:  # fmt: skip
        for ident in idents[:-1]:
            receiver = self.field(dot, ident, receiver, [], MISSING)
        return self.field(dot, idents[-1], receiver, args[1:], final)

    def field(
        self, dot: object, name: str, receiver: object, args: Sequence[Node], final: object
    ) -> object:
        has_args = bool(args) or final is not MISSING
        if receiver is None or receiver is NO_VALUE:
            if self.missing_key_error:
                raise self.error(f"nil data; no entry for key {_quote(name)}")
            raise self.error(f"nil pointer evaluating interface {{}}.{name}")
        method = _method(receiver, name)
        if method is not None:
            return self.call_method(dot, name, method, args, final)
        if isinstance(receiver, Mapping):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            return self.entry(receiver, name)
        raise self.error(f"can't evaluate field {name} in type {go_type(receiver)}")

    def entry(self, receiver: Mapping[str, object], name: str) -> object:
        """A struct's field or a map's entry: JSON keys match field names case-insensitively,
        as encoding/json matches them; a missing field is an error, a missing entry is
        "<no value>" (or an error, as `docker inspect` reads raw JSON)."""
        if name in receiver:
            return receiver[name]
        folded = name.casefold()
        for key, value in receiver.items():
            if str(key).casefold() == folded:
                return value
        if is_struct(receiver):
            if self.missing_key_error:
                if name in self.known_fields:  # left out of the JSON: the field's zero value
                    return None
                raise self.error(f"map has no entry for key {_quote(name)}")
            raise self.error(f"can't evaluate field {name} in type {go_type(receiver)}")
        return NO_VALUE

    def call_method(
        self, dot: object, name: str, method: Any, args: Sequence[Node], final: object
    ) -> object:
        if not callable(method):
            if args or final is not MISSING:
                raise self.error(f"{name} has arguments but cannot be invoked as function")
            return method
        wanted = len(inspect.signature(method).parameters)
        count = len(args) + (final is not MISSING)
        if count != wanted:
            raise self.error(f"wrong number of args for {name}: want {wanted} got {count}")
        values = [self.arg(dot, arg) for arg in args]
        if final is not MISSING:
            values.append(final)
        return method(*values)

    def function(
        self, dot: object, node: IdentifierNode, cmd: CommandNode, final: object
    ) -> object:
        self.node = node
        function = self.functions.get(node.name)
        if function is None:
            raise self.error(f"{_quote(node.name)} is not a defined function")
        args = cmd.args[1:]
        count = len(args) + (final is not MISSING)
        fixed = len(function.params)
        if function.variadic is None and count != fixed:
            raise self.error(f"wrong number of args for {node.name}: want {fixed} got {count}")
        if function.variadic is not None and count < fixed:
            raise self.error(
                f"wrong number of args for {node.name}: want at least {fixed} got {count}"
            )
        if node.name in ("and", "or"):
            return self.short_circuit(dot, node.name, args, final)
        kinds = [*function.params, *[function.variadic or ANY] * (count - fixed)]
        values = [self.typed_arg(dot, arg, kind) for arg, kind in zip(args, kinds, strict=False)]
        if final is not MISSING:
            values.append(self.check_type(final, kinds[-1]))
        try:
            return function.call(*values)
        except FunctionError as error:
            self.node = cmd
            raise self.error(f"error calling {node.name}: {error}") from None

    def short_circuit(self, dot: object, name: str, args: Sequence[Node], final: object) -> object:
        value: object = None
        for arg in args:
            value = self.arg(dot, arg)
            if is_true(value) != (name == "and"):
                return value
        return final if final is not MISSING else value

    def typed_arg(self, dot: object, node: Node, kind: str) -> object:
        self.node = node
        if isinstance(node, _CONSTANTS) and kind != ANY:
            value = None if isinstance(node, NilNode) else node.value
            if kind == STRING and not isinstance(value, str):
                raise self.error(f"expected string; found {node}")
            if kind == INT and (not isinstance(value, int) or isinstance(value, bool)):
                raise self.error(f"expected integer; found {node}")
            if kind == STRINGS:
                raise self.error(f"can't handle {node} for arg of type []string")
            return value
        return self.check_type(self.arg(dot, node), kind)

    def check_type(self, value: object, kind: str) -> object:
        valid = {
            ANY: True,
            STRING: isinstance(value, str),
            INT: isinstance(value, int) and not isinstance(value, bool),
            STRINGS: isinstance(value, list | tuple) and all(isinstance(v, str) for v in value),
        }[kind]
        if not valid:
            raise self.error(f"wrong type for value; expected {kind}; got {go_type(value)}")
        return value

    def arg(self, dot: object, node: Node) -> object:
        self.node = node
        if isinstance(node, DotNode):
            return dot
        if isinstance(node, NilNode):
            return None
        if isinstance(node, BoolNode | NumberNode | StringNode):
            return node.value
        if isinstance(node, FieldNode):
            return self.field_chain(dot, dot, node.idents, [node], MISSING)
        if isinstance(node, VariableNode):
            value = self.variable(node.idents[0])
            if len(node.idents) == 1:
                return value
            return self.field_chain(dot, value, node.idents[1:], [node], MISSING)
        if isinstance(node, PipeNode):
            return self.pipeline(dot, node)
        if isinstance(node, IdentifierNode):
            return self.function(dot, node, CommandNode(node.pos, [node]), MISSING)
        if isinstance(node, ChainNode):
            receiver = self.arg(dot, node.node)
            return self.field_chain(dot, receiver, node.fields, [node], MISSING)
        raise self.error(f"can't handle {node} for arg")


def _method(receiver: object, name: str) -> Any:
    """The exported method or attribute ``name`` of a formatter context (or a map type's
    method, such as the header's ``Label``), or None."""
    if not name[:1].isupper():
        return None
    if isinstance(receiver, Mapping):
        attribute = getattr(type(receiver), name, None)
        return getattr(receiver, name) if callable(attribute) else None
    if isinstance(receiver, TemplateObject):
        return getattr(receiver, name, None)
    return None


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def execute(
    tree: ListNode,
    text: str,
    name: str,
    functions: Mapping[str, Function],
    dot: object,
    missing_key_error: bool = False,
    known_fields: Container[str] = frozenset(),
) -> tuple[str, TemplateExecError | None]:
    """The output of ``tree`` on ``dot``, and the error that stopped it, if any: like Go, what
    was written before an error stays written."""
    state = State(text, name, functions, dot, missing_key_error, known_fields)
    try:
        state.walk(dot, tree)
    except TemplateExecError as error:
        return "".join(state.out), error
    except (_Break, _Continue):
        pass
    return "".join(state.out), None
