"""The engine's trust policy: which repositories need a signature, and by which keys.

In ``daemon.json``::

    "trust": {
        "127.0.0.1:5000/signed/*": {
            "require-signature": true,
            "keys": ["/etc/doca/trust/release.pub", "-----BEGIN PUBLIC KEY-----\\n…"]
        },
        "127.0.0.1:5000/signed/scratch/*": {"require-signature": false}
    }

A pattern names repositories as image references do (``busybox`` is
``docker.io/library/busybox``); ``*`` stands for any run of characters, ``/`` included. The
most specific pattern wins: an exact name over any pattern with ``*``, then the one with
the most literal characters. Keys are PEM text or paths to PEM files, relative to the config
file's directory; an image passes when any one of its signatures verifies with any one key.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InvalidParameter
from engine.trust.keys import KeyError_, PublicKey, load_public_key

PEM_START = "-----BEGIN"
# Verdicts kept so a run after a pull, or a second run, does not ask the registry again.
REMEMBERED = 1024
_PATTERN = re.compile(r"[A-Za-z0-9._:/\[\]*-]+", re.ASCII)
_RULE_KEYS = frozenset({"require-signature", "keys"})
_MAX_KEY_FILE = 64 * 1024


@dataclass(frozen=True)
class TrustRule:
    pattern: str
    require_signature: bool
    keys: tuple[PublicKey, ...] = ()
    _regex: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        parts = (re.escape(part) for part in self.pattern.split("*"))
        object.__setattr__(self, "_regex", re.compile(".*".join(parts)))

    def matches(self, name: str) -> bool:
        return self._regex.fullmatch(name) is not None

    @property
    def specificity(self) -> tuple[bool, int]:
        return ("*" not in self.pattern, len(self.pattern.replace("*", "")))

    def key_names(self) -> str:
        return ", ".join(key.name for key in self.keys)


@dataclass
class TrustPolicy:
    """The rules, and the (rule, repository, digest) triples already verified under them."""

    rules: tuple[TrustRule, ...] = ()
    _verified: OrderedDict[tuple[str, str, str], None] = field(
        default_factory=OrderedDict, compare=False, repr=False
    )

    def rule_for(self, name: str) -> TrustRule | None:
        """The rule for repository ``name`` (``domain/path``), or None when none covers it."""
        matching = [rule for rule in self.rules if rule.matches(name)]
        return max(matching, key=lambda rule: rule.specificity, default=None)

    def is_verified(self, rule: TrustRule, name: str, digest: str) -> bool:
        key = (rule.pattern, name, digest)
        if key in self._verified:
            self._verified.move_to_end(key)
            return True
        return False

    def remember(self, rule: TrustRule, name: str, digest: str) -> None:
        self._verified[(rule.pattern, name, digest)] = None
        self._verified.move_to_end((rule.pattern, name, digest))
        while len(self._verified) > REMEMBERED:
            self._verified.popitem(last=False)


def parse_trust(value: Any, base_dir: Path) -> TrustPolicy:
    """The ``trust`` section of the config file; InvalidParameter names what is wrong.

    Key files are read here, so a policy that cannot be enforced stops the engine at start
    rather than refusing every pull later.
    """
    if not isinstance(value, dict):
        raise InvalidParameter("trust must be an object of repository patterns")
    rules: dict[str, TrustRule] = {}
    for raw_pattern, entry in value.items():
        pattern = normalize_pattern(str(raw_pattern))
        if pattern in rules:
            raise InvalidParameter(f"trust: {raw_pattern!r} repeats pattern {pattern!r}")
        rules[pattern] = _rule(pattern, entry, base_dir)
    return TrustPolicy(tuple(rules.values()))


def normalize_pattern(pattern: str) -> str:
    """A pattern in the engine's full form: Docker Hub's domain and ``library/`` filled in."""
    text = pattern.strip()
    if not text or not _PATTERN.fullmatch(text):
        raise InvalidParameter(f"trust: invalid repository pattern {pattern!r}")
    first, slash, rest = text.partition("/")
    if ":" in rest or "[" in rest:
        raise InvalidParameter(
            f"trust: pattern {pattern!r} names a tag; patterns name repositories"
        )
    if first == "*" and not slash:
        return text
    if slash and (any(c in first for c in ".:[*") or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = "docker.io", text
        if "/" not in path and "*" not in path:
            path = "library/" + path
    if domain == "index.docker.io":
        domain = "docker.io"
    return f"{domain}/{path}"


def _rule(pattern: str, entry: Any, base_dir: Path) -> TrustRule:
    where = f"trust {pattern!r}"
    if not isinstance(entry, dict):
        raise InvalidParameter(f"{where}: must be an object with require-signature and keys")
    unknown = sorted(set(entry) - _RULE_KEYS)
    if unknown:
        raise InvalidParameter(f"{where}: unknown directive {unknown[0]!r}")
    required = entry.get("require-signature")
    if not isinstance(required, bool):
        raise InvalidParameter(f"{where}: require-signature must be true or false")
    keys = entry.get("keys", [])
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        raise InvalidParameter(f"{where}: keys must be a list of PEM keys or key file paths")
    if required and not keys:
        raise InvalidParameter(f"{where}: require-signature needs at least one key")
    if not required and keys:
        raise InvalidParameter(f"{where}: keys are given but require-signature is false")
    loaded = tuple(_key(text, index, base_dir, where) for index, text in enumerate(keys, 1))
    return TrustRule(pattern, required, loaded)


def _key(text: str, index: int, base_dir: Path, where: str) -> PublicKey:
    if text.lstrip().startswith(PEM_START):
        pem, name = text.encode(), f"key #{index} of {where}"
    else:
        path = base_dir / Path(text).expanduser()
        try:
            with path.open("rb") as file:
                pem = file.read(_MAX_KEY_FILE + 1)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise InvalidParameter(f"{where}: cannot read key {path}: {reason}") from None
        if len(pem) > _MAX_KEY_FILE:
            raise InvalidParameter(f"{where}: {path} is too large to be a public key")
        name = str(path)
    try:
        return load_public_key(pem, name)
    except KeyError_ as exc:
        raise InvalidParameter(f"{where}: {exc}") from None
