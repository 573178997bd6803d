"""Entry point of `docker-credential-doca`: the docker credential-helper protocol.

Usage: `docker-credential-doca <store|get|erase|list|version>` with the request on stdin.
As in docker/docker-credential-helpers, every error is printed to STDOUT and the exit code is 1.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import metadata
from typing import TextIO

from doca.credhelper import protocol
from doca.credhelper.index import CorruptIndex
from doca.credhelper.store import CredentialStore, StoreError

NAME = "docker-credential-doca"


def _version() -> str:
    try:
        return metadata.version("doca")
    except metadata.PackageNotFoundError:
        return "unknown"


def run(
    args: Sequence[str],
    stdin: TextIO,
    stdout: TextIO,
    store: CredentialStore | None = None,
) -> int:
    if len(args) != 1:
        stdout.write(f"Usage: {NAME} <store|get|erase|list|version>\n")
        return 1
    action = args[0]
    try:
        if action == "version":
            stdout.write(f"{NAME} (doca) {_version()}\n")
            return 0
        if action not in protocol.ACTIONS:
            raise protocol.ProtocolError(f"Unknown credential action `{action}`")
        store = store if store is not None else CredentialStore()
        if action == "store":
            store.store(protocol.parse_store_input(stdin.read()))
        elif action == "get":
            url = protocol.parse_server_url_input(stdin.read())
            username, secret = store.get(url)
            stdout.write(protocol.format_get_output(url, username, secret))
        elif action == "erase":
            store.erase(protocol.parse_server_url_input(stdin.read()))
        else:
            stdout.write(protocol.format_list_output(store.list()))
    except (protocol.ProtocolError, StoreError, CorruptIndex) as exc:
        stdout.write(f"{exc}\n")
        return 1
    except OSError as exc:
        stdout.write(f"{NAME}: {exc}\n")
        return 1
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:], sys.stdin, sys.stdout))
