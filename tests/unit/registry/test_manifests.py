"""Manifest validation and platform selection: pure functions, hostile input included."""

from __future__ import annotations

import orjson
import pytest

from engine.errors import InvalidParameter, NotFound
from engine.registry import mediatypes
from engine.registry.digests import DigestVerifier, validate_digest
from engine.registry.manifests import (
    MAX_MANIFEST_SIZE,
    ImageIndex,
    ImageManifest,
    parse_manifest,
    select_platform,
)
from engine.registry.platforms import Platform, compatible, normalize

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def manifest(media_type: str | None = mediatypes.DOCKER_MANIFEST, **extra: object) -> bytes:
    body: dict[str, object] = {
        "schemaVersion": 2,
        "config": {"mediaType": mediatypes.DOCKER_CONFIG, "digest": D1, "size": 10},
        "layers": [{"mediaType": mediatypes.DOCKER_LAYER, "digest": D2, "size": 20}],
    }
    if media_type is not None:
        body["mediaType"] = media_type
    body.update(extra)
    return orjson.dumps(body)


def entry(arch: str, os: str = "linux", variant: str = "", digest: str = "", **extra: object):
    platform: dict[str, str] = {"architecture": arch, "os": os}
    if variant:
        platform["variant"] = variant
    index = len(arch) + len(variant)
    return {
        "mediaType": mediatypes.OCI_MANIFEST,
        "digest": digest or "sha256:" + f"{index:x}".rjust(64, "a"),
        "size": 100,
        "platform": platform,
        **extra,
    }


def index(*entries: dict[str, object]) -> ImageIndex:
    raw = orjson.dumps(
        {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": list(entries)}
    )
    parsed = parse_manifest(raw, mediatypes.OCI_INDEX)
    assert isinstance(parsed, ImageIndex)
    return parsed


def test_pull_accept_lists_schema2_and_oci_but_not_schema1() -> None:
    accepted = [part.strip() for part in mediatypes.PULL_ACCEPT.split(",")]
    assert accepted == [
        mediatypes.DOCKER_MANIFEST,
        mediatypes.DOCKER_MANIFEST_LIST,
        mediatypes.OCI_MANIFEST,
        mediatypes.OCI_INDEX,
    ]
    assert mediatypes.DOCKER_SCHEMA1_MANIFEST not in accepted
    assert mediatypes.DOCKER_SCHEMA1_SIGNED_MANIFEST not in accepted


def test_parse_schema2_manifest() -> None:
    parsed = parse_manifest(manifest(), mediatypes.DOCKER_MANIFEST + "; charset=utf-8")
    assert isinstance(parsed, ImageManifest)
    assert parsed.config.digest == D1
    assert [layer.size for layer in parsed.layers] == [20]


def test_oci_manifest_without_media_type_field_is_told_by_shape() -> None:
    parsed = parse_manifest(manifest(None), "application/json")
    assert parsed.media_type == mediatypes.OCI_MANIFEST


def test_media_type_must_match_content_type() -> None:
    with pytest.raises(InvalidParameter, match="mediaType in manifest should be"):
        parse_manifest(manifest(mediatypes.OCI_MANIFEST), mediatypes.DOCKER_MANIFEST)


def test_schema1_is_refused_with_dockerds_text() -> None:
    raw = orjson.dumps({"schemaVersion": 1, "name": "x", "fsLayers": []})
    with pytest.raises(InvalidParameter, match="schema 1 support has been removed"):
        parse_manifest(raw, mediatypes.DOCKER_SCHEMA1_SIGNED_MANIFEST, "x:latest")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x00not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"string"', "JSON object"),
        (manifest(schemaVersion=3), "schemaVersion"),
        (manifest(layers="nope"), "layers must be an array"),
        (manifest(config=None), "config entry must be an object"),
        (orjson.dumps({"schemaVersion": 2}), "unsupported manifest format"),
    ],
)
def test_hostile_manifests_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        parse_manifest(raw, "application/json")


def test_huge_manifest_is_refused_before_parsing() -> None:
    raw = b" " * MAX_MANIFEST_SIZE + manifest()
    with pytest.raises(InvalidParameter, match="too large"):
        parse_manifest(raw, mediatypes.DOCKER_MANIFEST)


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:" + "1" * 63,
        "sha256:" + "G" * 64,
        "sha256:" + "A" * 64,  # upper case is not canonical
        "md5:" + "1" * 32,
        "sha256:../../etc/passwd",
        "",
        None,
        42,
    ],
)
def test_bad_digests_in_descriptors_are_refused(digest: object) -> None:
    raw = manifest(config={"mediaType": mediatypes.DOCKER_CONFIG, "digest": digest, "size": 1})
    with pytest.raises(InvalidParameter, match="invalid digest"):
        parse_manifest(raw, mediatypes.DOCKER_MANIFEST)


@pytest.mark.parametrize("size", [-1, "10", True, 1.5])
def test_bad_sizes_are_refused(size: object) -> None:
    raw = manifest(config={"mediaType": mediatypes.DOCKER_CONFIG, "digest": D1, "size": size})
    with pytest.raises(InvalidParameter, match="invalid size"):
        parse_manifest(raw, mediatypes.DOCKER_MANIFEST)


def test_digest_verifier() -> None:
    verifier = DigestVerifier(
        validate_digest("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    )
    verifier.update(b"hel")
    verifier.update(b"lo")
    verifier.verify()
    verifier.update(b"!")
    with pytest.raises(InvalidParameter, match="digest mismatch"):
        verifier.verify()


def test_select_amd64_by_default() -> None:
    amd64 = entry("amd64")
    chosen = select_platform(index(entry("arm64", variant="v8"), amd64, entry("s390x")))
    assert chosen.digest == amd64["digest"]


def test_attestation_entries_are_skipped() -> None:
    attestation = entry(
        "unknown",
        os="unknown",
        digest=D1,
        annotations={"vnd.docker.reference.type": "attestation-manifest"},
    )
    with pytest.raises(NotFound) as caught:
        select_platform(index(attestation, entry("arm64")))
    assert caught.value.message == (
        "no matching manifest for linux/amd64 in the manifest list entries"
    )


def test_arm64_v8_is_the_same_as_plain_arm64() -> None:
    only = entry("arm64", variant="v8")
    assert select_platform(index(only), "linux", "arm64").digest == only["digest"]
    plain = entry("aarch64")
    assert select_platform(index(plain), "linux", "arm64", "v8").digest == plain["digest"]


def test_arm64_prefers_arm64_over_32_bit_arm() -> None:
    arm7 = entry("arm", variant="v7")
    arm64 = entry("arm64")
    assert select_platform(index(arm7, arm64), "linux", "arm64").digest == arm64["digest"]
    # Without an arm64 image, a 64-bit host runs the 32-bit one.
    assert select_platform(index(arm7), "linux", "arm64").digest == arm7["digest"]


def test_arm_v7_does_not_run_v8_but_v6_runs_on_v7() -> None:
    v6 = entry("arm", variant="v6")
    assert select_platform(index(v6), "linux", "arm", "v7").digest == v6["digest"]
    with pytest.raises(NotFound, match="linux/arm/v7"):
        select_platform(index(entry("arm64")), "linux", "arm", "v7")


def test_amd64_falls_back_to_386_and_other_os_does_not_match() -> None:
    i386 = entry("386")
    assert select_platform(index(entry("amd64", os="windows"), i386)).digest == i386["digest"]


def test_entries_without_platform_match_last() -> None:
    bare = {"mediaType": mediatypes.DOCKER_MANIFEST, "digest": D2, "size": 5}
    amd64 = entry("amd64")
    assert select_platform(index(bare, amd64)).digest == amd64["digest"]
    assert select_platform(index(bare)).digest == D2


def test_normalisation_and_vectors() -> None:
    assert normalize(Platform("Linux", "x86_64")) == Platform("linux", "amd64")
    assert normalize(Platform("linux", "armhf")) == Platform("linux", "arm", "v7")
    assert [p.format() for p in compatible(Platform("linux", "arm64"))] == [
        "linux/arm64",
        "linux/arm/v8",
        "linux/arm/v7",
        "linux/arm/v6",
        "linux/arm/v5",
    ]
    assert [p.format() for p in compatible(Platform("linux", "amd64", "v3"))] == [
        "linux/amd64/v3",
        "linux/amd64/v2",
        "linux/amd64",
        "linux/386",
    ]
