"""Variable substitution in one instruction's words, with one stage's variables."""

from __future__ import annotations

from collections.abc import Mapping

from engine.build.shell_lex import ShellLex, ShellLexError
from engine.errors import InvalidParameter


class Words:
    def __init__(self, escape: str, env: Mapping[str, str]) -> None:
        self._lex = ShellLex(escape)
        self.env = env

    def word(self, text: str) -> str:
        """One word: quotes removed, ``$VAR`` substituted, no splitting."""
        try:
            return self._lex.process_word(text, self.env)
        except ShellLexError as exc:
            raise InvalidParameter(str(exc)) from exc

    def words(self, text: str) -> list[str]:
        """Whitespace-separated words (EXPOSE, VOLUME, COPY's sources in the shell form)."""
        try:
            return self._lex.process_words(text, self.env)
        except ShellLexError as exc:
            raise InvalidParameter(str(exc)) from exc
