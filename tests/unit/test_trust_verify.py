"""Verifying signatures read through the engine's registry client from an in-memory registry,
the refusals the engine answers with, and the create-time check of stored images."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from engine.config import EngineConfig
from engine.containers.image_trust import verify_image_trust
from engine.errors import Forbidden, NotFound, SystemError_
from engine.images.service import ImageService
from engine.registry.client import RegistryClient
from engine.registry.endpoints import RegistryEndpoint
from engine.trust.enforce import require_signed, verify_pull
from engine.trust.keys import PublicKey, generate_key_pair, load_private_key, load_public_key
from engine.trust.payload import signature_tag, simple_signing_payload
from engine.trust.policy import TrustPolicy, parse_trust
from engine.trust.signature_image import (
    OCI_MANIFEST,
    SignatureLayer,
    new_layer,
    signature_config,
    signature_manifest,
)
from engine.trust.signatures import sign_payload
from engine.trust.verify import NOT_SIGNED, Report, verify_signatures
from tests.unit.registry.fakeregistry import FakeRegistry, serve

REPO = "signed/app"
NAME = f"reg.example/{REPO}"
DIGEST = "sha256:" + "1" * 64
OTHER_DIGEST = "sha256:" + "2" * 64


@dataclass
class Signer:
    private_pem: bytes
    public: PublicKey

    def layer(self, digest: str = DIGEST, payload: bytes | None = None) -> tuple[bytes, Any]:
        payload = payload or simple_signing_payload(NAME, digest)
        private = load_private_key(self.private_pem, "key")
        return payload, new_layer(payload, sign_payload(private, payload))


def _signer(name: str) -> Signer:
    private_pem, public_pem = generate_key_pair()
    return Signer(private_pem, load_public_key(public_pem, name))


@pytest.fixture
def trusted() -> Signer:
    return _signer("trusted.pub")


@pytest.fixture
def stranger() -> Signer:
    return _signer("stranger.pub")


class Registry:
    def __init__(self, fake: FakeRegistry, port: int) -> None:
        self.fake = fake
        self.endpoint = RegistryEndpoint(f"127.0.0.1:{port}", "http", insecure=True)

    def client(self) -> RegistryClient:
        return RegistryClient(self.endpoint, None, None, "doca-test", retries=0, backoff=0.01)

    def store_signatures(self, signed: list[tuple[bytes, SignatureLayer]], digest: str) -> None:
        for payload, _ in signed:
            self.fake.put_blob(REPO, payload)
        layers = [layer for _, layer in signed]
        config = signature_config(layers)
        self.fake.put_blob(REPO, config)
        manifest = signature_manifest(layers, config)
        self.fake.put_manifest(REPO, signature_tag(digest), OCI_MANIFEST, manifest)


@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    fake = FakeRegistry()
    async with serve(fake.app()) as port:
        fake.base_url = f"http://127.0.0.1:{port}"
        yield Registry(fake, port)


async def _verify(registry: Registry, keys: list[PublicKey], every: bool = False) -> Report:
    async with registry.client() as client:
        return await verify_signatures(client, REPO, DIGEST, keys, every=every)


async def test_unsigned_image(registry: Registry, trusted: Signer) -> None:
    report = await _verify(registry, [trusted.public])
    assert (report.found, report.checked, report.verified) == (False, 0, [])
    assert report.reason() == "no signature exists"


async def test_signature_by_a_trusted_key(
    registry: Registry, trusted: Signer, stranger: Signer
) -> None:
    registry.store_signatures([stranger.layer(), trusted.layer()], DIGEST)
    report = await _verify(registry, [trusted.public])
    assert report.checked == 2
    assert [v.key.name for v in report.verified] == ["trusted.pub"]
    assert report.verified[0].claim.manifest_digest == DIGEST
    assert report.problems == [NOT_SIGNED]
    both = await _verify(registry, [stranger.public, trusted.public], every=True)
    assert [v.key.name for v in both.verified] == ["stranger.pub", "trusted.pub"]
    first = await _verify(registry, [stranger.public, trusted.public])
    assert (first.checked, len(first.verified)) == (1, 1)


async def test_signature_by_another_key(
    registry: Registry, trusted: Signer, stranger: Signer
) -> None:
    registry.store_signatures([stranger.layer()], DIGEST)
    report = await _verify(registry, [trusted.public])
    assert report.found and not report.verified
    assert report.reason() == "none is valid (1 signature checked: not signed by a trusted key)"


async def test_a_signature_of_another_image_does_not_count(
    registry: Registry, trusted: Signer
) -> None:
    # Signed by the right key, but its claim names another digest: moved from another image.
    registry.store_signatures([trusted.layer(OTHER_DIGEST)], DIGEST)
    report = await _verify(registry, [trusted.public])
    assert not report.verified
    assert report.problems == [f"signs {OTHER_DIGEST}, another image"]


async def test_a_payload_swapped_in_the_registry_is_caught(
    registry: Registry, trusted: Signer
) -> None:
    payload, layer = trusted.layer()
    registry.store_signatures([(payload, layer)], DIGEST)
    registry.fake.blobs[layer.digest] = payload.replace(b"cosign", b"COSIGN")
    report = await _verify(registry, [trusted.public])
    assert not report.verified
    assert "does not match its digest" in report.problems[0]


async def test_pull_is_refused_with_the_policy_and_the_reason(
    registry: Registry, trusted: Signer, stranger: Signer
) -> None:
    policy = TrustPolicy(parse_trust(_policy(trusted), Path("/")).rules)
    async with registry.client() as client:
        with pytest.raises(Forbidden) as unsigned:
            await verify_pull(policy, client, "reg.example", REPO, DIGEST, f"{NAME}:1")
        assert unsigned.value.message == (
            f'image "{NAME}:1" refused by trust policy "reg.example/signed/*": signature '
            "required, but no signature exists"
        )
        registry.store_signatures([stranger.layer()], DIGEST)
        with pytest.raises(Forbidden, match=r"none is valid .*not signed by a trusted key"):
            await verify_pull(policy, client, "reg.example", REPO, DIGEST, f"{NAME}:1")
        # Outside the policy nothing is asked of the registry.
        before = len(registry.fake.requests)
        await verify_pull(policy, client, "reg.example", "open/app", DIGEST, "x")
        assert len(registry.fake.requests) == before
        registry.store_signatures([stranger.layer(), trusted.layer()], DIGEST)
        await verify_pull(policy, client, "reg.example", REPO, DIGEST, f"{NAME}:1")
    assert policy.is_verified(policy.rules[0], NAME, DIGEST)


async def test_unreadable_signatures_refuse(trusted: Signer) -> None:
    policy = parse_trust(_policy(trusted), Path("/"))

    async def unreachable() -> Report:
        raise SystemError_("connection refused")

    with pytest.raises(Forbidden, match="cannot be read from the registry: connection refused"):
        await require_signed(policy, policy.rules[0], NAME, DIGEST, NAME, unreachable)


# -- create-time checks ---------------------------------------------------------------------


@dataclass
class FakeImages:
    """The part of the image service the create check reads."""

    refs: dict[str, str] = field(default_factory=dict)  # stored reference → image ID

    @property
    def store(self) -> FakeImages:
        return self

    def refs_of(self, image_id: str) -> list[str]:
        return sorted(ref for ref, target in self.refs.items() if target == image_id)

    def lookup(self, name: str) -> tuple[Any, str | None]:
        if name.startswith("sha256:"):
            if name in self.refs.values():
                return type("Record", (), {"id": name})(), None
            raise NotFound(f"No such image: {name}")
        full = name if "/" in name.split(":")[0] else f"docker.io/library/{name}"
        if full in self.refs:
            return type("Record", (), {"id": self.refs[full]})(), full
        raise NotFound(f"No such image: {name}")


def _policy(signer: Signer) -> dict[str, Any]:
    pem = signer.public.key.public_bytes(*_pem_spki()).decode()
    return {"reg.example/signed/*": {"require-signature": True, "keys": [pem]}}


def _pem_spki() -> tuple[Any, Any]:
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo


async def _create(config: EngineConfig, images: FakeImages, image: str) -> None:
    await verify_image_trust(config, cast(ImageService, images), {"Image": image})


async def test_create_needs_a_repository_digest(trusted: Signer) -> None:
    config = EngineConfig(trust=parse_trust(_policy(trusted), Path("/")))
    image_id = "sha256:" + "9" * 64
    images = FakeImages({f"{NAME}:1": image_id, "docker.io/library/busybox:latest": image_id})
    with pytest.raises(Forbidden, match=r"no repository digest.*pull it from reg\.example/signed"):
        await _create(config, images, f"{NAME}:1")
    # The same image by a name outside the policy runs; by its ID every name counts.
    await _create(config, images, "busybox:latest")
    with pytest.raises(Forbidden):
        await _create(config, images, image_id)
    # Unknown images and bodies are left for create to answer.
    await _create(config, images, "reg.example/signed/missing:1")
    await verify_image_trust(config, cast(ImageService, images), {"Image": 5})
    await verify_image_trust(config, cast(ImageService, images), [])


async def test_create_passes_digests_verified_on_pull(trusted: Signer) -> None:
    config = EngineConfig(trust=parse_trust(_policy(trusted), Path("/")))
    image_id = "sha256:" + "9" * 64
    images = FakeImages({f"{NAME}:1": image_id, f"{NAME}@{DIGEST}": image_id})
    config.trust.remember(config.trust.rules[0], NAME, DIGEST)
    await _create(config, images, f"{NAME}:1")
    await _create(config, images, image_id)


async def test_create_without_a_policy_reads_nothing() -> None:
    images = FakeImages()
    await _create(EngineConfig(), images, "anything")
