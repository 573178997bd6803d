"""The session of one `doca` invocation: ``-H`` and ``--context`` as given, and the engine
address they resolve to (see doca.client.transport.resolve_host)."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from doca.cli.runner import GENERAL_ERROR, Session
from doca.client.context_store import ContextError, context_name
from doca.client.transport import resolve_host


def _die(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(GENERAL_ERROR)


class CliSession(Session):
    """The session of a `doca` invocation: its engine address is resolved from ``-H``,
    ``--context``, the environment and the context store when a command first needs it, so
    that `doca context` works even when the current context is broken."""

    def __init__(self, host_flag: str | None = None, context_flag: str | None = None) -> None:
        if host_flag and context_flag:
            _die("conflicting options: cannot specify both --host and --context")
        self.host_flag = host_flag
        self.context_flag = context_flag
        self._host: str | None = None

    @property
    def host(self) -> str:
        if self._host is None:
            try:
                self._host = resolve_host(self.host_flag, self.context_flag)
            except ContextError as error:
                _die(f"Failed to initialize: {error}")
        return str(self._host)

    @host.setter
    def host(self, value: str) -> None:
        self._host = value

    def context_name(self) -> str:
        return context_name(self.host_flag, self.context_flag)
