"""`doca engine certs`: a CA, the engine's certificate and a client certificate, written where
the docker CLI and the engine look for them.

- client side, in the docker CLI's layout: ``ca.pem``, ``cert.pem``, ``key.pem`` in
  ``$DOCKER_CERT_PATH``, else ``$DOCKER_CONFIG``, else ``~/.docker`` (where the CLI reads them
  for ``--tlsverify`` / ``DOCKER_TLS_VERIFY=1``);
- engine side, as dockerd's documentation names them: ``ca.pem``, ``server-cert.pem``,
  ``server-key.pem`` in a directory of their own (``server/`` under the client's by default).
  They must stay apart: the engine's own defaults are ``{ca,cert,key}.pem`` of that same
  client directory, so it is started with ``--tlscacert/--tlscert/--tlskey`` naming them.

Keys are written 0600 from the start (never readable in between); nothing is replaced without
``--force``. The CA's key is not kept: a new client certificate means a new set.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import click

from doca.cli.runner import GENERAL_ERROR
from doca.cli.tls_certificates import DEFAULT_DAYS, LOCAL_NAMES, Certificates, issue

CLIENT_FILES = ("ca.pem", "cert.pem", "key.pem")
SERVER_FILES = ("ca.pem", "server-cert.pem", "server-key.pem")
SERVER_SUBDIR = "server"
DEFAULT_SOCKET = "unix:///run/doca/doca.sock"
TLS_PORT = 2376


def _die(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(GENERAL_ERROR)


def default_cert_dir() -> Path:
    """Where the docker CLI looks for its TLS files: ``$DOCKER_CERT_PATH``, else the config
    directory (``$DOCKER_CONFIG``, else ``~/.docker``)."""
    for name in ("DOCKER_CERT_PATH", "DOCKER_CONFIG"):
        if os.environ.get(name):
            return Path(os.environ[name])
    return Path.home() / ".docker"


def layout(certs: Certificates, client_dir: Path, server_dir: Path) -> dict[Path, bytes]:
    """Each file to write and its content."""
    return {
        client_dir / "ca.pem": certs.ca.cert,
        client_dir / "cert.pem": certs.client.cert,
        client_dir / "key.pem": certs.client.key,
        server_dir / "ca.pem": certs.ca.cert,
        server_dir / "server-cert.pem": certs.server.cert,
        server_dir / "server-key.pem": certs.server.key,
    }


def _mode(path: Path) -> int:
    return 0o600 if path.name.endswith("key.pem") else 0o644


def write_file(path: Path, content: bytes) -> None:
    """Write ``path`` whole (a temporary file renamed into place) with its final mode set
    before any byte of a key is in it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, scratch = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, _mode(path))
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)


def engine_command(server_dir: Path) -> str:
    return shlex.join([
        "doca-engine", "-H", DEFAULT_SOCKET, "-H", f"tcp://0.0.0.0:{TLS_PORT}", "--tlsverify",
        "--tlscacert", str(server_dir / "ca.pem"),
        "--tlscert", str(server_dir / "server-cert.pem"),
        "--tlskey", str(server_dir / "server-key.pem"),
    ])  # fmt: skip


def client_command(client_dir: Path, host: str) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    env = [f"DOCKER_HOST=tcp://{host}:{TLS_PORT}", "DOCKER_TLS_VERIFY=1"]
    if client_dir != default_cert_dir().absolute():
        env.append(f"DOCKER_CERT_PATH={shlex.quote(str(client_dir))}")
    return " ".join([*env, "docker", "version"])


@click.command("certs")
@click.option("--dir", "client_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Where the client's ca.pem, cert.pem and key.pem go "
              "(default: $DOCKER_CERT_PATH, $DOCKER_CONFIG or ~/.docker).")  # fmt: skip
@click.option("--server-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where the engine's ca.pem, server-cert.pem and server-key.pem go "
              f"(default: DIR/{SERVER_SUBDIR}).")  # fmt: skip
@click.option("--host", "hosts", multiple=True, metavar="NAME|IP",
              help="A name or address clients reach the engine by (repeatable); "
              f"{' and '.join(LOCAL_NAMES)} are always included.")  # fmt: skip
@click.option("--days", type=click.IntRange(min=1), default=DEFAULT_DAYS, show_default=True,
              help="How long the certificates are valid.")  # fmt: skip
@click.option("-f", "--force", is_flag=True, help="Replace certificates already there.")
def certs(
    client_dir: Path | None, server_dir: Path | None, hosts: tuple[str, ...], days: int,
    force: bool,
) -> None:  # fmt: skip
    """Make a CA, an engine certificate and a client certificate for TLS on tcp://."""
    client_dir = (client_dir or default_cert_dir()).absolute()
    server_dir = (server_dir or client_dir / SERVER_SUBDIR).absolute()
    if server_dir == client_dir:
        _die(
            "the engine's and the client's certificates need directories of their own: "
            "the engine reads cert.pem and key.pem of the client's directory by default"
        )
    files = layout(issue(hosts, days), client_dir, server_dir)
    if not force:
        present = [str(path) for path in files if path.exists()]
        if present:
            _die(f"{present[0]} already exists; use --force to replace the certificates")
    try:
        for path, content in files.items():
            write_file(path, content)
    except OSError as error:
        _die(f"writing the certificates: {error}")
    names = ", ".join([*hosts, *(name for name in LOCAL_NAMES if name not in hosts)])
    click.echo(f"Client: {', '.join(CLIENT_FILES)} in {client_dir}")
    click.echo(f"Engine: {', '.join(SERVER_FILES)} in {server_dir} (for {names})")
    click.echo("\nStart the engine with them:")
    click.echo(f"  {engine_command(server_dir)}")
    click.echo("and connect with:")
    click.echo(f"  {client_command(client_dir, hosts[0] if hosts else '127.0.0.1')}")
