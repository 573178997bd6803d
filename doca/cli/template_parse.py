"""The parser of Go's text/template: tokens into a tree of nodes, with Go's error messages
(``template: :1: function "foo" not defined``)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Container

from doca.cli.template_lex import Kind, Lexer, Token, go_quote
from doca.cli.template_nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    ChainNode,
    CommandNode,
    DotNode,
    Else,
    End,
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
from doca.cli.template_values import TemplateError


class TemplateSyntaxError(TemplateError):
    """A template that does not parse; ``str()`` is Go's message."""


_OPERAND_KINDS = frozenset({
    Kind.BOOL, Kind.CHAR_CONSTANT, Kind.DOT, Kind.FIELD, Kind.IDENTIFIER, Kind.NUMBER,
    Kind.NIL, Kind.RAW_STRING, Kind.STRING, Kind.VARIABLE, Kind.LEFT_PAREN,
})  # fmt: skip


def _unquote(token: Token) -> str:
    if token.kind is Kind.RAW_STRING:
        return token.value[1:-1].replace("\r", "")
    try:
        value = ast.literal_eval(token.value)
    except (ValueError, SyntaxError):
        raise TemplateSyntaxError("invalid syntax") from None
    return str(value)


def _number(token: Token) -> int | float:
    text = token.value
    if token.kind is Kind.CHAR_CONSTANT:
        try:
            char = ast.literal_eval('"' + text[1:-1].replace('"', '\\"') + '"')
        except (ValueError, SyntaxError):
            char = ""
        if len(char) != 1:
            raise TemplateSyntaxError(f"malformed character constant: {text}")
        return ord(char)
    cleaned = text.replace("_", "")
    try:
        return int(cleaned, 0)
    except ValueError:
        pass
    try:
        return float(cleaned)
    except ValueError:
        raise TemplateSyntaxError(f"illegal number syntax: {go_quote(text)}") from None


class Parser:
    def __init__(self, text: str, name: str, functions: Container[str]) -> None:
        self.name = name
        self.functions = functions
        self.tokens = Lexer(text).run()
        self.index = 0
        self.variables = ["$"]
        self.range_depth = 0
        self.current = self.tokens[0]

    # -- token stream ------------------------------------------------------------------------
    def _next(self) -> Token:
        token = self.tokens[min(self.index, len(self.tokens) - 1)]
        self.index += 1
        self.current = token
        return token

    def _backup(self, count: int = 1) -> None:
        self.index -= count

    def _peek(self) -> Token:
        return self.tokens[min(self.index, len(self.tokens) - 1)]

    def _next_non_space(self) -> Token:
        token = self._next()
        while token.kind is Kind.SPACE:
            token = self._next()
        return token

    def _peek_non_space(self) -> Token:
        token = self._next_non_space()
        self._backup()
        return token

    def error(self, message: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(f"template: {self.name}:{self.current.line}: {message}")

    def _unexpected(self, token: Token, context: str) -> TemplateSyntaxError:
        if token.kind is Kind.ERROR:
            return self.error(str(token))
        return self.error(f"unexpected {token} in {context}")

    def _expect(self, kind: Kind, context: str) -> Token:
        token = self._next_non_space()
        if token.kind is not kind:
            raise self._unexpected(token, context)
        return token

    # -- grammar -----------------------------------------------------------------------------
    def parse(self) -> ListNode:
        root = ListNode(0)
        while self._peek().kind is not Kind.EOF:
            node = self._text_or_action()
            if isinstance(node, End | Else):
                raise self.error("unexpected {{%s}}" % ("end" if isinstance(node, End) else "else"))
            root.nodes.append(node)
        return root

    def _item_list(self) -> tuple[ListNode, Node]:
        body = ListNode(self._peek_non_space().pos)
        while self._peek_non_space().kind is not Kind.EOF:
            node = self._text_or_action()
            if isinstance(node, End | Else):
                return body, node
            body.nodes.append(node)
        raise self.error("unexpected EOF")

    def _text_or_action(self) -> Node:
        token = self._next_non_space()
        if token.kind is Kind.TEXT:
            return TextNode(token.pos, token.value)
        if token.kind is Kind.LEFT_DELIM:
            return self._action()
        raise self._unexpected(token, "input")

    def _action(self) -> Node:
        token = self._next_non_space()
        handlers: dict[Kind, Callable[[Token], Node]] = {
            Kind.ELSE: self._else_control,
            Kind.END: self._end_control,
            Kind.IF: lambda t: self._branch("if", t),
            Kind.RANGE: lambda t: self._branch("range", t),
            Kind.WITH: lambda t: self._branch("with", t),
            Kind.BREAK: self._loop_control,
            Kind.CONTINUE: self._loop_control,
        }
        if token.kind in handlers:
            return handlers[token.kind](token)
        if token.kind in (Kind.DEFINE, Kind.TEMPLATE, Kind.BLOCK):
            raise self.error(f"{{{{{token.value}}}}} is not supported here")
        self._backup()
        pipe = self._pipeline("command", Kind.RIGHT_DELIM)
        return ActionNode(pipe.pos, pipe)

    def _loop_control(self, token: Token) -> Node:
        after = self._next_non_space()
        if after.kind is not Kind.RIGHT_DELIM:
            raise self._unexpected(after, f"{{{{{token.value}}}}}")
        if not self.range_depth:
            raise self.error(f"{{{{{token.value}}}}} outside {{{{range}}}}")
        return LoopControlNode(token.pos, token.value)

    def _end_control(self, token: Token) -> Node:
        return End(self._expect(Kind.RIGHT_DELIM, "end").pos)

    def _else_control(self, token: Token) -> Node:
        peek = self._peek_non_space()
        if peek.kind in (Kind.IF, Kind.WITH):
            return Else(peek.pos)
        return Else(self._expect(Kind.RIGHT_DELIM, "else").pos)

    def _branch(self, kind: str, token: Token) -> Node:
        saved = len(self.variables)
        try:
            pipe = self._pipeline(kind, Kind.RIGHT_DELIM)
            if kind == "range":
                self.range_depth += 1
            body, end = self._item_list()
            if kind == "range":
                self.range_depth -= 1
            else_body = None
            if isinstance(end, Else):
                following = self._peek()
                if kind in ("if", "with") and following.kind is Kind[kind.upper()]:
                    self._next()
                    else_body = ListNode(end.pos, [self._branch(kind, following)])
                else:
                    else_body, end = self._item_list()
                    if not isinstance(end, End):
                        raise self.error("expected end; found {{else}}")
            return BranchNode(pipe.pos, kind, pipe, body, else_body)
        finally:
            del self.variables[saved:]

    def _pipeline(self, context: str, end: Kind) -> PipeNode:
        start = self._peek_non_space()
        pipe = PipeNode(start.pos, start.line)
        self._declarations(pipe, context)
        while True:
            token = self._next_non_space()
            if token.kind is end:
                self._check_pipeline(pipe, context)
                return pipe
            if token.kind in _OPERAND_KINDS:
                self._backup()
                pipe.cmds.append(self._command())
            else:
                raise self._unexpected(token, context)

    def _declarations(self, pipe: PipeNode, context: str) -> None:
        while True:
            variable = self._peek_non_space()
            if variable.kind is not Kind.VARIABLE:
                return
            mark = self.index
            self._next_non_space()
            following = self._peek_non_space()
            if following.kind in (Kind.ASSIGN, Kind.DECLARE):
                pipe.is_assign = following.kind is Kind.ASSIGN
                self._next_non_space()
                pipe.decl.append(VariableNode(variable.pos, [variable.value]))
                self.variables.append(variable.value)
                return
            if following.kind is Kind.CHAR and following.value == ",":
                self._next_non_space()
                pipe.decl.append(VariableNode(variable.pos, [variable.value]))
                self.variables.append(variable.value)
                if context == "range" and len(pipe.decl) < 2:
                    if self._peek_non_space().kind in (
                        Kind.VARIABLE, Kind.RIGHT_DELIM, Kind.RIGHT_PAREN,
                    ):  # fmt: skip
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            self.index = mark
            return

    def _check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.error(f"missing value for {context}")
        for stage, cmd in enumerate(pipe.cmds[1:], start=2):
            if isinstance(cmd.args[0], BoolNode | DotNode | NilNode | NumberNode | StringNode):
                raise self.error(f"non executable command in pipeline stage {stage}")

    def _command(self) -> CommandNode:
        cmd = CommandNode(self._peek_non_space().pos)
        while True:
            self._peek_non_space()
            operand = self._operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self._next()
            if token.kind is Kind.SPACE:
                continue
            if token.kind in (Kind.RIGHT_DELIM, Kind.RIGHT_PAREN):
                self._backup()
            elif token.kind is not Kind.PIPE:
                raise self._unexpected(token, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def _operand(self) -> Node | None:
        node = self._term()
        if node is None or self._peek().kind is not Kind.FIELD:
            return node
        chain_pos = self._peek().pos
        fields = []
        while self._peek().kind is Kind.FIELD:
            fields.append(self._next().value[1:])
        # Like Go, a longer field or variable takes the position of its second part.
        if isinstance(node, FieldNode):
            return FieldNode(chain_pos, node.idents + fields)
        if isinstance(node, VariableNode):
            return VariableNode(chain_pos, node.idents + fields)
        if isinstance(node, BoolNode | StringNode | NumberNode | NilNode | DotNode):
            raise self.error(f"unexpected . after term {go_quote(str(node))}")
        return ChainNode(chain_pos, node, fields)

    def _term(self) -> Node | None:
        token = self._next_non_space()
        kind = token.kind
        if kind is Kind.IDENTIFIER:
            if token.value not in self.functions:
                raise self.error(f"function {go_quote(token.value)} not defined")
            return IdentifierNode(token.pos, token.value)
        if kind is Kind.DOT:
            return DotNode(token.pos)
        if kind is Kind.NIL:
            return NilNode(token.pos)
        if kind is Kind.VARIABLE:
            name = token.value.split(".")[0]
            if name not in self.variables:
                raise self.error(f"undefined variable {go_quote(name)}")
            return VariableNode(token.pos, [token.value])
        if kind is Kind.FIELD:
            return FieldNode(token.pos, [token.value[1:]])
        if kind is Kind.BOOL:
            return BoolNode(token.pos, token.value == "true")
        if kind in (Kind.NUMBER, Kind.CHAR_CONSTANT):
            try:
                return NumberNode(token.pos, token.value, _number(token))
            except TemplateSyntaxError as error:
                raise self.error(str(error)) from None
        if kind is Kind.LEFT_PAREN:
            return self._pipeline("parenthesized pipeline", Kind.RIGHT_PAREN)
        if kind in (Kind.STRING, Kind.RAW_STRING):
            try:
                return StringNode(token.pos, token.value, _unquote(token))
            except TemplateSyntaxError as error:
                raise self.error(str(error)) from None
        self._backup()
        return None


def parse(text: str, name: str, functions: Container[str]) -> ListNode:
    """The tree of ``text``; TemplateSyntaxError with Go's wording when it does not parse."""
    return Parser(text, name, functions).parse()
