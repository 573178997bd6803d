"""The lexer of Go's text/template, as the docker CLI's ``--format`` reads templates: text and
``{{ }}`` actions, trim markers (``{{- `` and `` -}}``) and comments."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

LEFT, RIGHT = "{{", "}}"
TRIM = "-"
COMMENT_OPEN, COMMENT_CLOSE = "/*", "*/"
_SPACES = " \t\r\n"


class Kind(Enum):
    TEXT = auto()
    LEFT_DELIM = auto()
    RIGHT_DELIM = auto()
    SPACE = auto()
    IDENTIFIER = auto()
    FIELD = auto()
    VARIABLE = auto()
    DOT = auto()
    STRING = auto()
    RAW_STRING = auto()
    CHAR_CONSTANT = auto()
    NUMBER = auto()
    BOOL = auto()
    NIL = auto()
    PIPE = auto()
    LEFT_PAREN = auto()
    RIGHT_PAREN = auto()
    ASSIGN = auto()
    DECLARE = auto()
    CHAR = auto()
    COMMENT = auto()
    EOF = auto()
    ERROR = auto()
    # Keywords: printed as <name> in error messages.
    IF = auto()
    ELSE = auto()
    END = auto()
    RANGE = auto()
    WITH = auto()
    BREAK = auto()
    CONTINUE = auto()
    DEFINE = auto()
    TEMPLATE = auto()
    BLOCK = auto()


KEYWORDS = {
    "if": Kind.IF, "else": Kind.ELSE, "end": Kind.END, "range": Kind.RANGE, "with": Kind.WITH,
    "break": Kind.BREAK, "continue": Kind.CONTINUE, "define": Kind.DEFINE,
    "template": Kind.TEMPLATE, "block": Kind.BLOCK, ".": Kind.DOT, "nil": Kind.NIL,
}  # fmt: skip
_KEYWORD_KINDS = frozenset(KEYWORDS.values())


@dataclass(frozen=True)
class Token:
    kind: Kind
    value: str
    pos: int
    line: int

    def __str__(self) -> str:
        """How Go's parser names a token in an error: ``"}"``, ``<end>``, ``EOF``."""
        if self.kind is Kind.EOF:
            return "EOF"
        if self.kind is Kind.ERROR:
            return self.value
        if self.kind in _KEYWORD_KINDS:
            return f"<{self.value}>"
        if len(self.value) > 10:
            return go_quote(self.value[:10]) + "..."
        return go_quote(self.value)


def go_quote(text: str) -> str:
    """strconv.Quote for printable text: double quotes, backslash escapes."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif not char.isprintable():
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out) + '"'


def go_rune(char: str) -> str:
    """Go's %#U of a rune: ``U+0021 '!'``."""
    return f"U+{ord(char):04X} '{char}'" if char.isprintable() else f"U+{ord(char):04X}"


def _alnum(char: str) -> bool:
    return char == "_" or char.isalnum()


class Lexer:
    """Turns template text into tokens; an error ends the stream with an ERROR token."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.start = 0
        self.paren_depth = 0
        self.tokens: list[Token] = []

    # -- scanning helpers -------------------------------------------------------------------
    def _peek(self, offset: int = 0) -> str:
        at = self.pos + offset
        return self.text[at] if at < len(self.text) else ""

    def _next(self) -> str:
        char = self._peek()
        if char:
            self.pos += 1
        return char

    def _backup(self) -> None:
        self.pos -= 1

    def _line(self, pos: int) -> int:
        return 1 + self.text.count("\n", 0, pos)

    def _emit(self, kind: Kind) -> None:
        value = self.text[self.start : self.pos]
        self.tokens.append(Token(kind, value, self.start, self._line(self.start)))
        self._ignore()

    def _ignore(self) -> None:
        self.start = self.pos

    def _error(self, message: str) -> None:
        self.tokens.append(Token(Kind.ERROR, message, self.start, self._line(self.pos)))

    # -- states -----------------------------------------------------------------------------
    def run(self) -> list[Token]:
        while self._lex_text() and self._lex_action():
            pass
        return self.tokens

    def _lex_text(self) -> bool:
        """Text up to the next action; False at the end of input."""
        at = self.text.find(LEFT, self.pos)
        if at < 0:
            self.pos = len(self.text)
            if self.pos > self.start:
                self._emit(Kind.TEXT)
            self.tokens.append(Token(Kind.EOF, "", self.pos, self._line(self.pos)))
            return False
        trim = self._left_trim(at)
        end = at
        if trim:
            end = len(self.text[:at].rstrip(_SPACES))
        self.pos = end
        if end > self.start:
            self._emit(Kind.TEXT)
        self.pos = at
        self._ignore()
        return True

    def _left_trim(self, at: int) -> bool:
        after = at + len(LEFT)
        return (
            self.text.startswith(TRIM, after)
            and len(self.text) > after + 1
            and self.text[after + 1] in _SPACES
        )

    def _right_trim_here(self) -> bool:
        """At `` -}}``: a space, the trim marker, the right delimiter."""
        return (
            self._peek() in _SPACES
            and self._peek() != ""
            and self.text.startswith(TRIM + RIGHT, self.pos + 1)
        )

    def _lex_action(self) -> bool:
        marker = len(TRIM) + 1 if self._left_trim(self.pos) else 0
        if self.text.startswith(COMMENT_OPEN, self.pos + len(LEFT) + marker):
            self.pos += len(LEFT) + marker
            self._ignore()
            return self._lex_comment()
        self.pos += len(LEFT)
        self._emit(Kind.LEFT_DELIM)
        self.pos += marker
        self._ignore()
        self.paren_depth = 0
        while True:
            if self._right_trim_here():
                self.pos += 1 + len(TRIM)
                self._ignore()
                return self._right_delim(trimmed=True)
            if self.text.startswith(RIGHT, self.pos):
                if self.paren_depth:
                    self._error("unclosed left paren")
                    return False
                return self._right_delim(trimmed=False)
            if not self._lex_inside_action():
                return False

    def _right_delim(self, trimmed: bool) -> bool:
        self.pos += len(RIGHT)
        self._emit(Kind.RIGHT_DELIM)
        if trimmed:
            self._skip_spaces()
        return True

    def _skip_spaces(self) -> None:
        rest = self.text[self.pos :]
        self.pos += len(rest) - len(rest.lstrip(_SPACES))
        self._ignore()

    def _lex_comment(self) -> bool:
        """A comment is dropped whole, with the spaces its trim markers remove."""
        close = self.text.find(COMMENT_CLOSE, self.pos + len(COMMENT_OPEN))
        if close < 0:
            self._error("unclosed comment")
            return False
        self.pos = close + len(COMMENT_CLOSE)
        trimmed = self._right_trim_here()
        if trimmed:
            self.pos += 1 + len(TRIM)
        if not self.text.startswith(RIGHT, self.pos):
            self._error("comment ends before closing delimiter")
            return False
        self.pos += len(RIGHT)
        self._ignore()
        if trimmed:
            self._skip_spaces()
        return True

    def _lex_inside_action(self) -> bool:
        char = self._next()
        if not char:
            self._error("unclosed action")
            return False
        if char in _SPACES:
            while self._peek() and self._peek() in _SPACES and not self._right_trim_here():
                self._next()
            self._emit(Kind.SPACE)
        elif char == "=":
            self._emit(Kind.ASSIGN)
        elif char == ":":
            if self._next() != "=":
                self._error("expected :=")
                return False
            self._emit(Kind.DECLARE)
        elif char == "|":
            self._emit(Kind.PIPE)
        elif char == '"':
            return self._lex_quote()
        elif char == "`":
            return self._lex_raw_quote()
        elif char == "$":
            return self._lex_variable()
        elif char == "'":
            return self._lex_char()
        elif char == ".":
            if self._peek().isdigit():
                self._backup()
                return self._lex_number()
            return self._lex_field()
        elif char in "+-" or char.isdigit():
            self._backup()
            return self._lex_number()
        elif _alnum(char):
            return self._lex_identifier()
        elif char == "(":
            self.paren_depth += 1
            self._emit(Kind.LEFT_PAREN)
        elif char == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self._error("unexpected right paren")
                return False
            self._emit(Kind.RIGHT_PAREN)
        elif char.isascii() and char.isprintable():
            self._emit(Kind.CHAR)
        else:
            self._error(f"unrecognized character in action: {go_rune(char)}")
            return False
        return True

    def _at_terminator(self) -> bool:
        char = self._peek()
        return (
            char == ""
            or char in _SPACES
            or char in ".,|:)("
            or self.text.startswith(RIGHT, self.pos)
        )

    def _lex_identifier(self) -> bool:
        while _alnum(self._peek()):
            self._next()
        if not self._at_terminator():
            self._error(f"bad character {go_rune(self._peek())}")
            return False
        word = self.text[self.start : self.pos]
        if word in KEYWORDS and KEYWORDS[word] is not Kind.DOT:
            self._emit(KEYWORDS[word])
        elif word in ("true", "false"):
            self._emit(Kind.BOOL)
        else:
            self._emit(Kind.IDENTIFIER)
        return True

    def _lex_field(self) -> bool:
        return self._lex_field_or_variable(Kind.FIELD)

    def _lex_variable(self) -> bool:
        return self._lex_field_or_variable(Kind.VARIABLE)

    def _lex_field_or_variable(self, kind: Kind) -> bool:
        if self._at_terminator():
            self._emit(Kind.VARIABLE if kind is Kind.VARIABLE else Kind.DOT)
            return True
        while _alnum(self._peek()):
            self._next()
        if not self._at_terminator():
            self._error(f"bad character {go_rune(self._peek())}")
            return False
        self._emit(kind)
        return True

    def _lex_quote(self) -> bool:
        while True:
            char = self._next()
            if char == "\\":
                if self._next() in ("", "\n"):
                    self._error("unterminated quoted string")
                    return False
            elif char in ("", "\n"):
                self._error("unterminated quoted string")
                return False
            elif char == '"':
                self._emit(Kind.STRING)
                return True

    def _lex_raw_quote(self) -> bool:
        close = self.text.find("`", self.pos)
        if close < 0:
            self._error("unterminated raw quoted string")
            return False
        self.pos = close + 1
        self._emit(Kind.RAW_STRING)
        return True

    def _lex_char(self) -> bool:
        while True:
            char = self._next()
            if char == "\\":
                if self._next() in ("", "\n"):
                    self._error("unterminated character constant")
                    return False
            elif char in ("", "\n"):
                self._error("unterminated character constant")
                return False
            elif char == "'":
                self._emit(Kind.CHAR_CONSTANT)
                return True

    def _lex_number(self) -> bool:
        if self._peek() in ("+", "-") and self._peek():
            self._next()
        digits, exponent = "0123456789_", "eE"
        if self._peek() == "0" and self._peek(1) and self._peek(1) in "xXoObB":
            self._next()
            base = self._next().lower()
            digits = {"x": "0123456789abcdefABCDEF_", "o": "01234567_", "b": "01_"}[base]
            exponent = "pP" if base == "x" else ""
        self._accept_run(digits)
        if self._peek() == "." and exponent:
            self._next()
            self._accept_run(digits)
        if exponent and self._peek() and self._peek() in exponent:
            self._next()
            if self._peek() and self._peek() in "+-":
                self._next()
            self._accept_run("0123456789_")
        if self._peek() == "i":
            self._next()
        if _alnum(self._peek()):
            self._next()
            self._error(f"bad number syntax: {go_quote(self.text[self.start : self.pos])}")
            return False
        self._emit(Kind.NUMBER)
        return True

    def _accept_run(self, chars: str) -> None:
        while self._peek() and self._peek() in chars:
            self._next()
