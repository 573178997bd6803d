"""Repository names, references and token scopes as the distribution API spells them.

Names are checked before they go into a URL path, so a hostile reference can never
address anything but the repository it names.
"""

from __future__ import annotations

import re

from engine.errors import InvalidParameter
from engine.registry.digests import is_digest

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")

CATALOG_SCOPE = "registry:catalog:*"


def pull_scope(repo: str) -> str:
    return f"repository:{repo}:pull"


def push_scope(repo: str) -> str:
    return f"repository:{repo}:pull,push"


def check_repository(repo: str) -> str:
    if len(repo) > 255 or not _REPOSITORY.fullmatch(repo):
        raise InvalidParameter(f"invalid repository name {repo[:300]!r}")
    return repo


def check_reference(ref: str) -> str:
    """A tag or a sha256 digest; anything else could smuggle a path into the URL."""
    if not (_TAG.fullmatch(ref) or is_digest(ref)):
        raise InvalidParameter(f"invalid tag or digest {ref[:200]!r}")
    return ref
