"""Registry commands: registry serve."""

from __future__ import annotations

import logging
from pathlib import Path

import click


@click.group()
def registry() -> None:
    """Run a container image registry."""


@registry.command("serve")
@click.option(
    "--addr", default="127.0.0.1:5000", show_default=True, help="Address to listen on, HOST:PORT."
)
@click.option(
    "--root",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory holding the registry's blobs and repositories.",
)
@click.option(
    "--htpasswd",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Require Basic authentication against this bcrypt htpasswd file.",
)
@click.option(
    "--insecure-open",
    is_flag=True,
    help="Allow serving without --htpasswd on a non-loopback address.",
)
def serve(addr: str, root: Path, htpasswd: Path | None, insecure_open: bool) -> None:
    """Serve a Distribution (v2) registry that docker can push to and pull from."""
    # Imported here so that every other doca command starts without the server's imports.
    from engine.errors import EngineError
    from engine.registry_server import ServeConfig, check_exposure, parse_addr, run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def started(host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"Serving registry on http://{shown}:{port} (root {root})")

    try:
        host, port = parse_addr(addr)
        config = ServeConfig(root.absolute(), host, port, htpasswd, insecure_open)
        check_exposure(config)
        run(config, started)
    except EngineError as error:
        raise click.ClickException(error.message) from error
    except OSError as error:
        raise click.ClickException(f"cannot serve on {addr}: {error}") from error
