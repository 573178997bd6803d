"""The VM's settings, passed on the kernel command line as ``doca.*`` parameters.

``qemu_command.kernel_cmdline`` writes them; the guest's init reads them back here. Paths are
percent-encoded so that spaces and quotes in a shared folder's name survive the command line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

PREFIX = "doca."
#: Where the engine's socket is served from inside the VM when nothing says otherwise.
DEFAULT_PORT = 2375


@dataclass(frozen=True)
class Share:
    """A host folder shared into the VM over 9p, mounted at the same path inside."""

    tag: str  # the 9p mount tag QEMU's device carries
    path: str


@dataclass(frozen=True)
class GuestConfig:
    port: int = DEFAULT_PORT
    transport: str = "tcp"  # "tcp" (QEMU's user network forwards it) or "vsock"
    shares: tuple[Share, ...] = field(default_factory=tuple)
    debug: bool = False


def to_params(config: GuestConfig) -> list[str]:
    """The ``doca.*`` kernel parameters that carry ``config``."""
    params = [f"{PREFIX}port={config.port}", f"{PREFIX}transport={config.transport}"]
    params += [f"{PREFIX}share={share.tag}:{quote(share.path)}" for share in config.shares]
    if config.debug:
        params.append(f"{PREFIX}debug=1")
    return params


def parse(cmdline: str) -> GuestConfig:
    """The settings in a kernel command line (``/proc/cmdline``); other parameters are
    ignored, unknown ``doca.*`` ones too (a newer host may pass more)."""
    port, transport, debug = DEFAULT_PORT, "tcp", False
    shares: list[Share] = []
    for key, value in _params(cmdline.split()):
        if key == "port":
            port = int(value)
        elif key == "transport":
            if value not in ("tcp", "vsock"):
                raise ValueError(f"unknown transport {value!r}")
            transport = value
        elif key == "share":
            tag, sep, path = value.partition(":")
            if not sep or not tag or not path:
                raise ValueError(f"bad share {value!r}: want TAG:PATH")
            shares.append(Share(tag, unquote(path)))
        elif key == "debug":
            debug = value not in ("", "0")
    return GuestConfig(port=port, transport=transport, shares=tuple(shares), debug=debug)


def _params(words: Iterable[str]) -> Iterable[tuple[str, str]]:
    for word in words:
        if word.startswith(PREFIX):
            key, _, value = word[len(PREFIX) :].partition("=")
            yield key, value
