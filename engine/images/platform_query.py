"""The ``platform`` query of a pull (``os/arch[/variant]``), parsed as containerd's platforms.Parse.

An empty query means the host's platform. A lone component is an OS when it names one
(``linux``: host architecture) and otherwise an architecture of the host's OS (``arm64``).
"""

from __future__ import annotations

import re
from typing import Any

from engine.errors import InvalidParameter, NotFound
from engine.images.load import host_arch
from engine.registry.platforms import Platform, normalize

_KNOWN_OS = frozenset(
    {"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js", "linux",
     "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "macos"}
)  # fmt: skip
_COMPONENT = re.compile(r"[A-Za-z0-9_.-]+")


def host_platform() -> Platform:
    return Platform("linux", host_arch())


def parse_platform(text: str) -> Platform:
    """The platform a query asks for, normalised (``aarch64`` → ``arm64``)."""
    text = text.strip()
    if not text:
        return normalize(host_platform())
    parts = text.split("/")
    if len(parts) > 3 or not all(_COMPONENT.fullmatch(p) for p in parts):
        raise InvalidParameter(
            f'"{text}": unknown operating system or architecture: invalid argument'
        )
    parts = [p.lower() for p in parts]
    if len(parts) == 1:
        if parts[0] in _KNOWN_OS:
            return normalize(Platform(parts[0], host_arch() if parts[0] == "linux" else ""))
        return normalize(Platform("linux", parts[0]))
    variant = parts[2] if len(parts) == 3 else ""
    return normalize(Platform(parts[0], parts[1], variant))


def check_platform(reference: str, config: dict[str, Any], wanted: Platform) -> None:
    """A single-platform image pulled with ``--platform`` must be that platform."""
    actual = Platform(
        str(config.get("os") or ""),
        str(config.get("architecture") or ""),
        str(config.get("variant") or ""),
    )
    got, want = normalize(actual), normalize(wanted)
    if (got.os, got.architecture) != (want.os, want.architecture) or (
        want.variant and got.variant != want.variant
    ):
        raise NotFound(
            f"image with reference {reference} was found but does not match the "
            f"specified platform: wanted {want.format()}, actual: {got.format()}"
        )
