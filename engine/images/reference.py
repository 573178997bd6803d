"""Image references, parsed and normalised the way Docker does it.

A port of github.com/distribution/reference (``regexp.go``, ``reference.go``,
``normalize.go``) together with the digest checks of github.com/opencontainers/go-digest.
Error messages keep Docker's wording, because clients show them verbatim.

The grammar::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain "/"] remote-name
    domain           := host [":" port-number]
    host             := domain-name | IPv4address | "[" IPv6address "]"
    path-component   := alpha-numeric [separator alpha-numeric]*
    alpha-numeric    := /[a-z0-9]+/
    separator        := /[_.]|__|[-]+/
    tag              := /[\\w][\\w.-]{0,127}/
    digest           := algorithm ":" /[0-9a-fA-F]{32,}/
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from engine.errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
REPOSITORY_NAME_TOTAL_LENGTH_MAX = 255

# --- grammar (regexp.go) -----------------------------------------------------------------------
# Go's \w is ASCII-only, hence re.ASCII; every match below is a fullmatch, because Python's
# "$" would also accept a trailing newline.
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_OPTIONAL_PORT = r"(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_IPV6_ADDRESS = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = rf"{_DOMAIN_NAME_COMPONENT}(?:\.{_DOMAIN_NAME_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6_ADDRESS})"
_DOMAIN_AND_PORT = _HOST + _OPTIONAL_PORT
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_NAME = rf"(?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME}"

_REFERENCE_RE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_NAME_RE = re.compile(rf"(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})", re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_DIGEST_RE = re.compile(_DIGEST, re.ASCII)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}", re.ASCII)

# go-digest: the algorithms dockerd links in, with their hex length; and the looser shape a
# digest of an unknown algorithm must have to be called "unsupported" rather than malformed.
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_ENCODED_HEX_RE = re.compile(r"[a-f0-9]+", re.ASCII)
_ANY_DIGEST_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+", re.ASCII)

# What dockerd accepts as a (possibly truncated) image ID (daemon/containerd/image.go).
_TRUNCATED_ID_RE = re.compile(r"(?:sha256:)?[a-f0-9]{4,64}", re.ASCII)

ERR_REFERENCE_INVALID_FORMAT = "invalid reference format"
ERR_TAG_INVALID_FORMAT = "invalid tag format"
ERR_NAME_CONTAINS_UPPERCASE = "repository name must be lowercase"
ERR_NAME_TOO_LONG = (
    f"repository name must not be more than {REPOSITORY_NAME_TOTAL_LENGTH_MAX} characters"
)
ERR_DIGEST_INVALID_FORMAT = "invalid checksum digest format"
ERR_DIGEST_INVALID_LENGTH = "invalid checksum digest length"
ERR_DIGEST_UNSUPPORTED = "unsupported digest algorithm"


@dataclass(frozen=True)
class Reference:
    """A named image reference, optionally tagged and/or pinned by digest.

    Build one with :func:`parse_normalized_named` or :func:`parse_reference`; the
    constructor itself does not validate. ``domain`` is empty only in the corner case Docker
    also produces, where the first component looked like a host but is not a valid one
    (``a_b.c/x``): the whole name is then the path.
    """

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The full repository name, e.g. ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def familiar_name(self) -> str:
        """The name as the Docker CLI shows it: ``busybox``, ``org/app``, ``ghcr.io/x/y``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        remainder = self.path.removeprefix(OFFICIAL_REPO_PREFIX)
        # Only one level under "library/" is an official image ("library/a/b" stays as is).
        return self.path if "/" in remainder else remainder

    @property
    def is_tagged(self) -> bool:
        return self.tag is not None

    @property
    def is_digested(self) -> bool:
        return self.digest is not None

    @property
    def is_name_only(self) -> bool:
        return self.tag is None and self.digest is None

    def _with_suffix(self, name: str) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return name + tag + digest

    def __str__(self) -> str:
        return self._with_suffix(self.name)

    def familiar(self) -> str:
        """The reference as the Docker CLI shows it (Docker's ``FamiliarString``)."""
        return self._with_suffix(self.familiar_name)

    def with_tag(self, tag: str) -> Reference:
        """This reference with ``tag`` set; a digest, if any, is kept."""
        return replace(self, tag=parse_tag(tag))

    def with_digest(self, digest: str) -> Reference:
        """This reference with ``digest`` set; a tag, if any, is kept."""
        return replace(self, digest=validate_digest(digest))


def parse_normalized_named(s: str) -> Reference:
    """Parse a name as typed by a user into a fully qualified reference.

    Docker's ``ParseNormalizedNamed``: ``busybox`` becomes ``docker.io/library/busybox``,
    no default tag is added. A bare 64-hex string is refused, since it would be
    indistinguishable from an image ID.
    """
    if _IDENTIFIER_RE.fullmatch(s):
        raise InvalidParameter(
            f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_docker_domain(s)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidParameter(
            f"invalid reference format: repository name ({remote}) must be lowercase"
        )
    return _parse(f"{domain}/{remainder}")


def parse_reference(s: str, default_tag: str | None = DEFAULT_TAG) -> Reference:
    """Parse and normalise ``s``, adding ``default_tag`` if it has neither tag nor digest.

    With ``default_tag=None`` this is :func:`parse_normalized_named`.
    """
    ref = parse_normalized_named(s)
    if default_tag is not None and ref.is_name_only:
        return ref.with_tag(default_tag)
    return ref


def parse_tag(tag: str) -> str:
    """Return ``tag`` if it is a valid tag on its own, else raise InvalidParameter."""
    if not _TAG_RE.fullmatch(tag):
        raise InvalidParameter(ERR_TAG_INVALID_FORMAT)
    return tag


def validate_digest(d: str) -> str:
    """Return ``d`` if it is a valid digest of an algorithm dockerd supports.

    Follows go-digest's ``Parse``: sha256, sha384 and sha512 must carry exactly the right
    number of lowercase hex characters.
    """
    algorithm, sep, encoded = d.partition(":")
    if not sep or not encoded:
        raise InvalidParameter(ERR_DIGEST_INVALID_FORMAT)
    length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if length is None:
        if not _ANY_DIGEST_RE.fullmatch(d):
            raise InvalidParameter(ERR_DIGEST_INVALID_FORMAT)
        raise InvalidParameter(ERR_DIGEST_UNSUPPORTED)
    if len(encoded) != length:
        raise InvalidParameter(ERR_DIGEST_INVALID_LENGTH)
    if not _ENCODED_HEX_RE.fullmatch(encoded):
        raise InvalidParameter(ERR_DIGEST_INVALID_FORMAT)
    return d


def is_image_id_like(s: str) -> bool:
    """Whether ``s`` could name an image by (possibly truncated) ID, as dockerd sees it.

    True for ``sha256:<hex>`` and bare hex of 4 to 64 characters. Short hex strings are also
    valid names ("cafe"), so a caller resolving ``s`` tries it as a name first, as dockerd
    does; a bare 64-hex string, however, can only be an ID.
    """
    return _TRUNCATED_ID_RE.fullmatch(s) is not None


def _split_docker_domain(name: str) -> tuple[str, str]:
    """Split a familiar name into domain and remainder (``splitDockerDomain``)."""
    maybe_domain, sep, maybe_remainder = name.partition("/")
    if not sep:
        # A single element is always a Docker Hub official image: "localhost:5000" is the
        # image "localhost" with tag "5000", not a registry.
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain, remainder = DEFAULT_DOMAIN, maybe_remainder
    elif (
        maybe_domain == "localhost"
        or "." in maybe_domain
        or ":" in maybe_domain
        # Namespaces are lowercase, so an uppercase first element must be a host.
        or maybe_domain.lower() != maybe_domain
    ):
        domain, remainder = maybe_domain, maybe_remainder
    else:
        domain, remainder = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def _parse(s: str) -> Reference:
    """Parse a reference without normalising it (``reference.Parse``)."""
    if not s:
        raise InvalidParameter("repository name must have at least one component")
    match = _REFERENCE_RE.fullmatch(s)
    if match is None:
        lowered = s.lower()
        if lowered != s and _REFERENCE_RE.fullmatch(lowered):
            raise InvalidParameter(ERR_NAME_CONTAINS_UPPERCASE)
        raise InvalidParameter(ERR_REFERENCE_INVALID_FORMAT)
    name, tag, digest = match.groups()
    name_match = _NAME_RE.fullmatch(name)
    assert name_match is not None  # the reference pattern embeds the name pattern
    domain, path = name_match.group(1) or "", name_match.group(2)
    if len(path) > REPOSITORY_NAME_TOTAL_LENGTH_MAX:
        raise InvalidParameter(ERR_NAME_TOO_LONG)
    if digest is not None:
        validate_digest(digest)
    return Reference(domain=domain, path=path, tag=tag, digest=digest)
