"""What `doca trust sign` and `verify` do in the registry: resolve the tag, read and write the
``.sig`` image, with the docker CLI's logins.

The registry is reached through the engine's registry client, endpoint order and certs.d
handling (``engine.registry``, ``engine.images.registry_access``), so the CLI reaches a
registry exactly as a pull from a local engine would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from doca.cli.registry_commands import Reference
from doca.credhelper import dockerconfig as dc
from doca.credhelper.helpers import HelperError
from engine.errors import EngineError, NotFound
from engine.images.registry_access import Candidate, certs_dir_for, with_fallback
from engine.registry.auth import Credentials
from engine.registry.client import RegistryClient
from engine.registry.endpoints import lookup_endpoints
from engine.trust import keys as trust_keys
from engine.trust.payload import docker_reference, signature_tag, simple_signing_payload
from engine.trust.signature_image import (
    OCI_MANIFEST,
    SignatureImageError,
    SignatureLayer,
    new_layer,
    sha256_digest,
    signature_config,
    signature_layers,
    signature_manifest,
)
from engine.trust.signatures import sign_payload, signature_valid
from engine.trust.verify import Report, verify_signatures

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

T = TypeVar("T")
KEY_FILE_LIMIT = 64 * 1024


class TrustError(Exception):
    """Ends the command with ``Error: <message>`` and exit code 1."""


def read_key(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(KEY_FILE_LIMIT + 1)
    except OSError as error:
        raise TrustError(f"reading key {path}: {error.strerror or error}") from None
    if len(data) > KEY_FILE_LIMIT:
        raise TrustError(f"{path} is too large to be a key")
    return data


def private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        return trust_keys.load_private_key(read_key(path), str(path))
    except trust_keys.KeyError_ as error:
        raise TrustError(str(error)) from None


def public_keys(paths: Sequence[Path]) -> list[trust_keys.PublicKey]:
    try:
        return [trust_keys.load_public_key(read_key(path), str(path)) for path in paths]
    except trust_keys.KeyError_ as error:
        raise TrustError(str(error)) from None


def credentials(reference: Reference) -> Credentials:
    """The login the docker CLI would use for the registry, found as `doca push` finds it."""
    try:
        found = dc.credentials_for(reference.domain)
    except (dc.ConfigError, HelperError) as error:
        raise TrustError(str(error)) from None
    if found is None:
        return Credentials()
    username, secret = found
    address = dc.server_address(reference.domain)
    if username == dc.TOKEN_USERNAME:
        return Credentials(identity_token=secret, server_address=address)
    return Credentials(username=username, password=secret, server_address=address)


def run(operation: Coroutine[Any, Any, T]) -> T:
    """Run a registry conversation; registry errors become TrustError."""
    try:
        return asyncio.run(operation)
    except EngineError as error:
        raise TrustError(error.message) from None


@contextlib.asynccontextmanager
async def registry(
    reference: Reference, login: Credentials, insecure: bool
) -> AsyncIterator[tuple[RegistryClient, str]]:
    """An open client of the reference's registry and the digest its tag resolves to,
    trying the registry's endpoints in dockerd's order (HTTPS, then HTTP where allowed)."""
    domain, path = reference.domain, reference.path
    endpoints = lookup_endpoints(domain, [domain] if insecure else [], certs_dir_for(domain))
    wanted = reference.digest or reference.tag
    client, (_, digest, _) = await with_fallback(
        [Candidate(e) for e in endpoints],
        login,
        lambda candidate: candidate.get_manifest(path, wanted),
    )
    try:
        yield client, digest
    finally:
        await client.close()


async def sign(
    reference: Reference, private: ec.EllipticCurvePrivateKey, login: Credentials, insecure: bool
) -> str:
    """Sign the digest the reference resolves to and store the signature with cosign's
    layout, after the signatures already there (as cosign appends). Returns what to print."""
    async with registry(reference, login, insecure) as (client, digest):
        repo = reference.path
        payload = simple_signing_payload(docker_reference(reference.domain, repo), digest)
        tag = signature_tag(digest)
        existing = await _existing_signatures(client, repo, tag)
        public = trust_keys.public_key_of(private, "the signing key")
        # As cosign's duplicate detector: the same claim by the same key is not added twice.
        digest_of_payload = sha256_digest(payload)
        if any(
            old.digest == digest_of_payload and signature_valid(public, payload, old.signature)
            for old in existing
        ):
            return f"{reference.name}@{digest} is already signed with this key"
        layers = [*existing, new_layer(payload, sign_payload(private, payload))]
        config = signature_config(layers)
        await _upload(client, repo, payload)
        await _upload(client, repo, config)
        await client.put_manifest(repo, tag, OCI_MANIFEST, signature_manifest(layers, config))
        return f"Pushing signature to: {reference.name}:{tag}"


async def verify(
    reference: Reference, keys: Sequence[trust_keys.PublicKey], login: Credentials, insecure: bool
) -> Report:
    """Every signature of the digest the reference resolves to, checked against ``keys``."""
    async with registry(reference, login, insecure) as (client, digest):
        try:
            return await verify_signatures(client, reference.path, digest, keys, every=True)
        except SignatureImageError as error:
            name = f"{reference.name}@{digest}"
            raise TrustError(f"the signature image of {name} is invalid: {error}") from None


async def _existing_signatures(client: RegistryClient, repo: str, tag: str) -> list[SignatureLayer]:
    try:
        _, _, raw = await client.get_manifest(repo, tag)
    except NotFound:
        return []
    try:
        return signature_layers(raw)
    except SignatureImageError as error:
        raise TrustError(f"{repo}:{tag} is not a signature image: {error}") from None


async def _upload(client: RegistryClient, repo: str, data: bytes) -> None:
    digest = sha256_digest(data)
    if await client.blob_exists(repo, digest) is not None:
        return

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await client.upload_blob(repo, digest, len(data), chunks())
