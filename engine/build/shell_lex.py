"""Variable substitution and quote removal in a Dockerfile's words, as buildkit's ``shell.Lex``.

Single quotes are literal; double quotes allow ``$`` and escape ``"``, ``$`` and the escape
character; ``$VAR``, ``${VAR}`` and the modifiers ``:-  -  :+  +  :?  ?  #  ##  %  %%  /  //``
expand; an unset variable expands to "". Nothing here runs a shell: no command substitution,
no globbing, no arithmetic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from engine.build.shell_pattern import (
    ShellPatternError,
    replace_every,
    shell_pattern,
    trim_prefix,
    trim_suffix,
)

# Go's unicode.IsSpace: the White_Space property (Python's str.isspace adds \x1c-\x1f).
WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPECIAL_PARAMS = "@*#?-$!0"


class ShellLexError(ValueError):
    """A word that can not be expanded: bad syntax, or a ``${VAR?message}`` that fired."""


def go_quote(text: str) -> str:
    """Roughly Go's ``%q``, which buildkit's messages use."""
    return json.dumps(text, ensure_ascii=False)


class _Fields:
    """Splits the expanded text into words; quoted and escaped text never splits."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch in WHITESPACE:
            if self.in_word and self.buf:
                self.words.append("".join(self.buf))
                self.buf = []
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        if text:
            self.buf.append(text)
        self.in_word = True

    def result(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf = []
            self.in_word = False
        return self.words


class ShellLex:
    """``escape`` is ``\\`` or, after ``# escape=```, a backtick.

    The keyword options serve the parser's heredoc detection: ``raw_quotes`` and
    ``raw_escapes`` keep quotes and escape characters in the result, ``skip_unset_env``
    leaves references to unset variables as written.
    """

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset_env: bool = False,
    ) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset_env = skip_unset_env

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """One word: quotes removed, variables expanded, no field splitting."""
        return _Word(self, word, env).process()[0]

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Like ``process_word`` but unquoted whitespace (also from expansions) splits words."""
        return _Word(self, word, env).process()[1]

    def process_word_with_matches(self, word: str, env: Mapping[str, str]) -> tuple[str, set[str]]:
        """``process_word`` and the names of the variables it found in ``env``."""
        state = _Word(self, word, env)
        result, _ = state.process()
        return result, state.matches


class _Word:
    def __init__(self, lex: ShellLex, text: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.text = text
        self.env = env
        self.pos = 0
        self.raw_escapes = lex.raw_escapes
        self.matches: set[str] = set()

    def process(self) -> tuple[str, list[str]]:
        try:
            return self.stop_on(None, self.raw_escapes)
        except ShellLexError as exc:
            raise ShellLexError(f"failed to process {go_quote(self.text)}: {exc}") from None

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def take(self) -> str | None:
        ch = self.peek()
        if ch is not None:
            self.pos += 1
        return ch

    def stop_on(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        """Up to ``stop`` (consumed) or the end; an unmet ``stop`` is an error."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _stop_on(self, stop: str | None) -> tuple[str, list[str]]:
        result: list[str] = []
        fields = _Fields()
        while (ch := self.peek()) is not None:
            if ch == stop:
                self.pos += 1
                return "".join(result), fields.result()
            if ch == "$":
                value = self.dollar()
                result.append(value)
                fields.add_string(value)
            elif ch == "<":
                value = self.possible_heredoc()
                result.append(value)
                fields.add_raw(value)
            elif ch == "'":
                value = self.single_quote()
                result.append(value)
                fields.add_raw(value)
            elif ch == '"':
                value = self.double_quote()
                result.append(value)
                fields.add_raw(value)
            else:
                self.pos += 1
                if ch == self.lex.escape:
                    if self.raw_escapes:
                        fields.add_raw(ch)
                        result.append(ch)
                    escaped = self.take()
                    if escaped is None:
                        break  # an escape at the very end is dropped
                    fields.add_raw(escaped)
                    result.append(escaped)
                else:
                    fields.add_char(ch)
                    result.append(ch)
        if stop is not None:
            raise ShellLexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), fields.result()

    def single_quote(self) -> str:
        quote = self.take()
        result = [quote] if self.lex.raw_quotes and quote else []
        while True:
            ch = self.take()
            if ch is None:
                raise ShellLexError(
                    "unexpected end of statement while looking for matching single-quote"
                )
            if ch == "'":
                if self.lex.raw_quotes:
                    result.append(ch)
                return "".join(result)
            result.append(ch)

    def double_quote(self) -> str:
        quote = self.take()
        result = [quote] if self.lex.raw_quotes and quote else []
        while True:
            ch = self.peek()
            if ch is None:
                raise ShellLexError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.pos += 1
                if self.lex.raw_quotes:
                    result.append(ch)
                return "".join(result)
            if ch == "$":
                result.append(self.dollar())
                continue
            self.pos += 1
            if ch == self.lex.escape:
                if self.raw_escapes:
                    result.append(ch)
                following = self.peek()
                if following is None:
                    continue  # reported as the missing closing quote
                if following in ('"', "$", self.lex.escape):
                    ch = following
                    self.pos += 1
            result.append(ch)

    def possible_heredoc(self) -> str:
        self.pos += 1
        if self.peek() != "<":
            return "<"
        self.pos += 1
        start = self.pos
        while self.peek() in ("\t", "\r", " "):
            self.pos += 1
        return "<<" + self.text[start : self.pos]

    def name(self) -> str:
        """A variable name, a run of digits (positional) or one special parameter."""
        start = self.pos
        first = self.peek()
        if first is not None and first.isdecimal():
            while (ch := self.peek()) is not None and ch.isdecimal():
                self.pos += 1
            return self.text[start : self.pos]
        if first is not None and first in _SPECIAL_PARAMS:
            self.pos += 1
            return first
        while (ch := self.peek()) is not None and (ch.isalpha() or ch.isdecimal() or ch == "_"):
            self.pos += 1
        return self.text[start : self.pos]

    def get_env(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matches.add(name)
            return self.env[name], True
        return "", False

    def dollar(self) -> str:
        self.pos += 1
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "$" + name
            return value
        self.pos += 1
        ch = self.peek()
        if ch is None:
            raise ShellLexError("syntax error: missing '}'")
        if ch in "{}:":
            raise ShellLexError("syntax error: bad substitution")
        name = self.name()
        modifier = self.take()
        if modifier is None:
            raise ShellLexError("syntax error: missing '}'")
        if modifier == "}":
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value
        if modifier == "/":
            return self.replace(name)
        null_is_unset = modifier == ":"
        if null_is_unset:
            following = self.take()
            if following is None:
                raise ShellLexError("syntax error: missing '}'")
            modifier += following
        elif modifier not in "+-?#%":
            raise ShellLexError(f"unsupported modifier ({modifier}) in substitution")
        op = modifier[-1]
        if null_is_unset and op in "#%":
            raise ShellLexError(f"unsupported modifier ({modifier}) in substitution")
        word = self._until_brace(op in "#%")
        value, found = self.get_env(name)
        if self.lex.skip_unset_env and not found:
            return "${" + name + modifier + word + "}"
        empty = not found or (null_is_unset and value == "")
        if op == "-":
            return word if empty else value
        if op == "+":
            return "" if empty else word
        if op == "?":
            if not found:
                raise ShellLexError(f"{name}: {word or 'is not allowed to be unset'}")
            if empty:
                raise ShellLexError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if op in "#%":
            greedy = word.startswith(op)
            if greedy:
                word = word[1:]
            trim = trim_suffix if op == "%" else trim_prefix
            try:
                return trim(word, value, greedy)
            except ShellPatternError as exc:
                raise ShellLexError(
                    f"invalid pattern ({exc.pattern}) in substitution: {exc}"
                ) from None
        raise ShellLexError(f"unsupported modifier ({modifier}) in substitution")

    def _until_brace(self, raw_escapes: bool) -> str:
        try:
            return self.stop_on("}", raw_escapes)[0]
        except ShellLexError:
            if self.peek() is None:
                raise ShellLexError("syntax error: missing '}'") from None
            raise

    def replace(self, name: str) -> str:
        """``${VAR/pattern/replacement}``, and ``//`` for every match."""
        replace_all = self.peek() == "/"
        if replace_all:
            self.pos += 1
        try:
            pattern = self.stop_on("/", True)[0]
        except ShellLexError:
            if self.peek() is None:
                raise ShellLexError("syntax error: missing '/' in ${}") from None
            raise
        replacement = self._until_brace(True)
        value, found = self.get_env(name)
        if self.lex.skip_unset_env and not found:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        try:
            regex = shell_pattern(pattern, greedy=True, anchored=False)
        except ShellPatternError as exc:
            raise ShellLexError(f"invalid pattern ({pattern}) in substitution: {exc}") from None
        if replace_all:
            return replace_every(regex, value, replacement)
        match = regex.search(value)
        if match is None:
            return value
        return value[: match.start()] + replacement + value[match.end() :]
