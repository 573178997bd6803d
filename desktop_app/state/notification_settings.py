"""``NotificationSettings``: whether the tray tells the user when a container fails. Off until
the user turns it on; kept in a small JSON file beside the Settings page's (``settings.py``),
in a file of its own: that page writes its file whole, with only the fields it knows. Qt-free."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from desktop_app.state.settings import config_home

log = logging.getLogger(__name__)

Listener = Callable[[bool], None]

_KEY = "container_failures"


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/doca/notifications.json``."""
    return config_home(os.environ if environ is None else environ) / "doca" / "notifications.json"


class NotificationSettings:
    """The opt-in flag, its listeners, and the file it is kept in (none: memory only)."""

    def __init__(self, path: Path | None = None, enabled: bool = False) -> None:
        self.path = path
        self._enabled = enabled
        self._listeners: list[Listener] = []
        self._saving = threading.Lock()  # two quick toggles: two saves in two threads

    @classmethod
    def load(cls, path: Path | None) -> NotificationSettings:
        """The settings kept at ``path``; off when the file is missing or unreadable.
        A small read: fine at start-up, before the event loop is busy."""
        enabled = False
        if path is not None:
            try:
                enabled = json.loads(path.read_text()).get(_KEY) is True
            except FileNotFoundError:
                pass
            except (OSError, ValueError, AttributeError) as exc:
                log.warning("ignoring unreadable notification settings %s: %s", path, exc)
        return cls(path, enabled)

    @property
    def enabled(self) -> bool:
        return self._enabled

    def set_enabled(self, enabled: bool) -> bool:
        """Turn notifications on or off; listeners hear of a change. True if it changed."""
        if enabled == self._enabled:
            return False
        self._enabled = enabled
        for listener in list(self._listeners):
            try:
                listener(enabled)
            except Exception:
                log.exception("notification settings listener failed")
        return True

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(enabled)`` on every change; returns an unsubscriber."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def save(self) -> None:
        """Write the file (temp file, fsync, rename). Blocking: run it in an executor."""
        if self.path is None:
            return
        with self._saving:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            try:
                with temp.open("w") as out:
                    json.dump({_KEY: self._enabled}, out)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temp, self.path)
            finally:
                temp.unlink(missing_ok=True)
