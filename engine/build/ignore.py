""".dockerignore: reading the file as the docker CLI does, and matching paths against its
patterns as moby/patternmatcher does.

Docker's rules (https://docs.docker.com/build/concepts/context/#dockerignore-files):

* a line starting with ``#`` is a comment; blank lines are skipped; the rest is trimmed,
  cleaned (``filepath.Clean``) and loses a leading ``/``, so ``/a`` and ``a`` are the same;
* patterns use Go's ``filepath.Match`` syntax, plus ``**`` for any number of directories;
* a pattern that matches a directory excludes everything below it;
* ``!`` re-includes what an earlier pattern excluded; the last matching pattern wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from engine.build import pathmatch
from engine.errors import InvalidParameter

_BOM = "\ufeff"
# Characters special to regular expressions that mean nothing to filepath.Match.
_REGEX_ONLY = set(".+()|{}$")


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore file, in order, as ignorefile.ReadAll returns them."""
    patterns = []
    for number, line in enumerate(text.split("\n")):
        line = line.removesuffix("\r")
        if number == 0:
            line = line.removeprefix(_BOM)
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = pathmatch.clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


class _Kind(Enum):
    EXACT = 1
    PREFIX = 2  # "dir/**"
    SUFFIX = 3  # "**/name"
    REGEXP = 4


@dataclass(frozen=True)
class _Pattern:
    text: str  # cleaned, without the "!"
    exclusion: bool
    kind: _Kind
    regexp: re.Pattern[str] | None

    def matches(self, path: str) -> bool:
        if self.kind is _Kind.EXACT:
            return path == self.text
        if self.kind is _Kind.PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind is _Kind.SUFFIX:
            suffix = self.text[2:]
            # "**/foo" also matches "foo" itself
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regexp is not None
        return self.regexp.match(path) is not None


class PatternMatcher:
    """Decides which paths of a build context a list of .dockerignore patterns excludes."""

    def __init__(self, patterns: list[str]) -> None:
        self._patterns: list[_Pattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            text = pathmatch.clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise InvalidParameter('illegal exclusion pattern: "!"')
                text = text[1:]
            try:
                pathmatch.validate(text)
            except pathmatch.BadPattern as e:
                raise InvalidParameter(f"{e}: {text}") from e
            kind, regexp = _compile(text)
            self._patterns.append(_Pattern(text, exclusion, kind, regexp))

    @property
    def exclusions(self) -> bool:
        """Whether any pattern re-includes (``!``) paths."""
        return any(p.exclusion for p in self._patterns)

    def excluded(self, path: str, is_dir: bool = False) -> bool:
        """Whether ``path`` (relative to the context, ``/``-separated) is excluded, by a pattern
        matching it or one of its parent directories (MatchesOrParentMatches).

        ``is_dir`` is accepted for walkers that know it; Docker's patterns match files and
        directories alike (a trailing ``/`` is cleaned away).
        """
        path = pathmatch.clean(path)
        if path == ".":
            return False  # the context itself is never excluded
        parents = path.split("/")[:-1]
        matched = False
        for pattern in self._patterns:
            # An include cannot change a path already excluded, nor an exclusion one that is not.
            if pattern.exclusion != matched:
                continue
            hit = pattern.matches(path) or any(
                pattern.matches("/".join(parents[: i + 1])) for i in range(len(parents))
            )
            if hit:
                matched = not pattern.exclusion
        return matched

    def reincludes_below(self, directory: str) -> bool:
        """Whether a ``!`` pattern may re-include something below an excluded ``directory``,
        so a walker must descend into it instead of dropping it whole (as Docker's tar
        walker decides: by the pattern's literal prefix)."""
        prefix = pathmatch.clean(directory) + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self._patterns)


def _compile(text: str) -> tuple[_Kind, re.Pattern[str] | None]:
    """The pattern as patternmatcher compiles it: plain string tests where they suffice."""
    regex = "^"
    kind = _Kind.EXACT
    i = 0
    while i < len(text):
        ch = text[i]
        start = i
        i += 1
        if ch == "*":
            if text.startswith("*", i):  # "**": any number of directories
                i += 1
                if text.startswith("/", i):
                    i += 1
                if i == len(text):
                    if kind is _Kind.EXACT:
                        kind = _Kind.PREFIX
                    else:
                        regex += ".*"
                        kind = _Kind.REGEXP
                else:
                    regex += "(.*/)?"
                    kind = _Kind.REGEXP
                if start == 0:
                    kind = _Kind.SUFFIX
            else:
                regex += "[^/]*"
                kind = _Kind.REGEXP
        elif ch == "?":
            regex += "[^/]"
            kind = _Kind.REGEXP
        elif ch == "\\":
            if i < len(text):
                regex += re.escape(text[i])
                i += 1
                kind = _Kind.REGEXP
            else:
                regex += re.escape("\\")
        elif ch == "[":
            cls, i = _char_class(text, i)
            regex += cls
            kind = _Kind.REGEXP
        elif ch in _REGEX_ONLY:
            regex += "\\" + ch
        else:
            regex += re.escape(ch)
    if kind is not _Kind.REGEXP:
        return kind, None
    return kind, re.compile(regex + r"\Z")


def _char_class(text: str, i: int) -> tuple[str, int]:
    """The regular expression for the class whose ``[`` precedes ``text[i]``, and the index
    after its ``]``. The pattern was validated, so the class is well-formed."""
    out = "["
    if text.startswith("^", i):
        out += "^"
        i += 1
    first = True
    while first or text[i] != "]":
        first = False
        lo, i = _class_char(text, i)
        out += re.escape(lo)
        if text[i] == "-":
            hi, i = _class_char(text, i + 1)
            out += "-" + re.escape(hi)
    return out + "]", i + 1


def _class_char(text: str, i: int) -> tuple[str, int]:
    if text[i] == "\\":
        i += 1
    return text[i], i + 1
