"""The registry's URL grammar: repository names, tags, digests and the route a path names.

Paths are matched on the raw request target, before any percent-decoding, so an encoded
slash or dot can never smuggle a path component into a repository name: the name grammar
allows neither ``%`` nor an empty or dot-only component, and names are the only part of a URL
that ever becomes a filesystem path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from engine.registry_server.errors import DIGEST_INVALID, NAME_INVALID, TAG_INVALID, RegistryError

# distribution/reference: path-component = alphanumeric (separator alphanumeric)*
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_NAME = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
NAME_MAX = 255
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


def check_name(name: str) -> str:
    if len(name) > NAME_MAX or not _NAME.match(name):
        raise RegistryError(NAME_INVALID, {"name": name})
    return name


def is_tag(reference: str) -> bool:
    return bool(_TAG.match(reference))


def check_digest(digest: str) -> str:
    """A digest this registry can hold; other algorithms are refused, not silently mismatched."""
    if not _DIGEST.match(digest):
        raise RegistryError(DIGEST_INVALID, "digest parsing failed")
    if not _SHA256.match(digest):
        raise RegistryError(DIGEST_INVALID, f"unsupported digest {digest}")
    return digest


def check_reference(reference: str) -> str:
    """A manifest reference: a tag, or a digest (which is checked like any digest)."""
    if is_tag(reference):
        return reference
    if ":" in reference:
        return check_digest(reference)
    raise RegistryError(TAG_INVALID, {"tag": reference})


@dataclass(frozen=True)
class Route:
    """What a request path names: ``kind`` plus the repository and the last path element."""

    kind: str
    name: str = ""
    ref: str = ""


_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("base", re.compile(r"^/v2/?$")),
    ("catalog", re.compile(r"^/v2/_catalog$")),
    ("tags", re.compile(r"^/v2/(?P<name>.+)/tags/list$")),
    ("manifest", re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")),
    ("uploads", re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/?$")),
    ("upload", re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<ref>[^/]+)$")),
    ("blob", re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<ref>[^/]+)$")),
)


def parse_route(raw_path: str) -> Route | None:
    """The route of a raw request target, or None when it is no registry URL.

    Raises NAME_INVALID when the path has a registry shape but its repository name is bad.
    """
    path = raw_path.split("?", 1)[0]
    for kind, pattern in _ROUTES:
        match = pattern.match(path)
        if match is None:
            continue
        groups = match.groupdict()
        name = check_name(groups["name"]) if "name" in groups else ""
        return Route(kind, name, unquote(groups.get("ref") or ""))
    return None
