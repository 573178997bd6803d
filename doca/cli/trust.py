"""`doca trust`: sign images in a registry and verify their signatures, in cosign's format.

Signatures go to the image's own repository under the tag ``sha256-<hex>.sig``, as cosign
stores them (see ``engine.trust``), so cosign verifies what Doca signs
(``cosign verify --key doca.pub --insecure-ignore-tlog IMAGE``: Doca writes no transparency
log entry) and the engine's trust policy verifies what cosign signs with a PEM key.

These commands talk to the registry directly, not through an engine: what is signed is the
digest the registry serves. Logins come from the docker CLI's config, as for `doca push`.
The registry and crypto modules are imported by the commands, so other `doca` commands start
without them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import click

from doca.cli.registry_commands import DEFAULT_TAG, Reference, parse_reference
from doca.cli.runner import GENERAL_ERROR

_insecure_option = click.option(
    "--allow-insecure-registry",
    is_flag=True,
    help="Reach the registry over plain HTTP or unverified TLS (loopback always may).",
)


def _die(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(GENERAL_ERROR)


def _reference(image: str) -> Reference:
    try:
        reference = parse_reference(image)
    except ValueError as error:
        _die(str(error))
    if not reference.tag and not reference.digest:
        return Reference(reference.domain, reference.path, DEFAULT_TAG)
    return reference


@click.group()
def trust() -> None:
    """Sign images and verify their signatures (cosign's format)."""


@trust.command("keygen")
@click.option(
    "--output-key-prefix",
    "prefix",
    default="doca",
    show_default=True,
    metavar="NAME",
    help="Write the private key to NAME.key and the public key to NAME.pub.",
)
def keygen(prefix: str) -> None:
    """Create an ECDSA P-256 key pair (PEM) for signing images."""
    from engine.trust.keys import generate_key_pair

    private_path, public_path = Path(prefix + ".key"), Path(prefix + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            _die(f"Error: {path} already exists; remove it or choose another --output-key-prefix")
    private_pem, public_pem = generate_key_pair()
    try:
        _write_new(private_path, private_pem, 0o600)
        _write_new(public_path, public_pem, 0o644)
    except OSError as error:
        _die(f"Error: writing the key pair: {error}")
    click.echo(f"Private key written to {private_path}")
    click.echo(f"Public key written to {public_path}")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` (never over an existing file) with ``mode`` from the start."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


@trust.command("sign")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="PEM private key (ECDSA P-256) to sign with.",
)
@_insecure_option
@click.argument("image", metavar="NAME[:TAG|@DIGEST]")
def sign(key_path: Path, allow_insecure_registry: bool, image: str) -> None:
    """Sign an image as pushed in its registry, and push the signature next to it."""
    from doca.cli import trust_registry as ops

    reference = _reference(image)
    try:
        private = ops.private_key(key_path)
        login = ops.credentials(reference)
        click.echo(ops.run(ops.sign(reference, private, login, allow_insecure_registry)))
    except ops.TrustError as error:
        _die(f"Error: {error}")


@trust.command("verify")
@click.option(
    "--key",
    "key_paths",
    required=True,
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="PEM public key (ECDSA P-256) to trust; repeat to trust several.",
)
@_insecure_option
@click.argument("image", metavar="NAME[:TAG|@DIGEST]")
def verify(key_paths: tuple[Path, ...], allow_insecure_registry: bool, image: str) -> None:
    """Check an image's signatures in its registry against public keys.

    Prints a line per valid signature and exits 0, or says why none is valid and exits 1.
    """
    from doca.cli import trust_registry as ops

    reference = _reference(image)
    try:
        keys = ops.public_keys(key_paths)
        login = ops.credentials(reference)
        report = ops.run(ops.verify(reference, keys, login, allow_insecure_registry))
    except ops.TrustError as error:
        _die(f"Error: {error}")
    signed = f"{reference.name}@{report.digest}"
    if not report.found:
        _die(f"Error: no signatures found for {signed}")
    if not report.verified:
        detail = report.details() if report.checked else report.reason()
        _die(f"Error: no matching signatures for {signed}: {detail}")
    for verified in report.verified:
        key = verified.key
        click.echo(f"Verified {signed}: signed by {key.name} ({key.fingerprint})")
