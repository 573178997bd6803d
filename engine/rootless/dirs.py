"""Where a rootless engine keeps its state: the XDG base directories, as rootless Docker does.

Persistent state under ``$XDG_DATA_HOME/doca`` (default ``~/.local/share/doca``); runtime
state and the API socket under ``$XDG_RUNTIME_DIR/doca``, a per-user tmpfs that the login
session creates and that only the user can enter.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from engine.errors import InvalidParameter

SOCKET_NAME = "doca.sock"


def data_home(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME``, else ``$HOME/.local/share`` (a relative value is ignored, as the
    XDG specification says)."""
    value = environ.get("XDG_DATA_HOME", "")
    if value.startswith("/"):
        return Path(value)
    home = environ.get("HOME", "")
    if not home:
        raise InvalidParameter("rootless mode needs $HOME or $XDG_DATA_HOME to be set")
    return Path(home) / ".local" / "share"


def runtime_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_RUNTIME_DIR``; there is no safe default to fall back on (/tmp is shared)."""
    value = environ.get("XDG_RUNTIME_DIR", "")
    if not value.startswith("/"):
        raise InvalidParameter("XDG_RUNTIME_DIR needs to be set for rootless mode")
    return Path(value)


def default_data_root(environ: Mapping[str, str]) -> Path:
    return data_home(environ) / "doca"


def default_exec_root(environ: Mapping[str, str]) -> Path:
    return runtime_dir(environ) / "doca"


def default_host(environ: Mapping[str, str]) -> str:
    """The API socket's ``-H`` address: ``unix://$XDG_RUNTIME_DIR/doca/doca.sock``."""
    return f"unix://{default_exec_root(environ) / SOCKET_NAME}"
