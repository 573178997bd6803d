"""Manifest validation (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.registry_server.errors import RegistryError
from engine.registry_server.manifests import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    parse_manifest,
)

CONFIG = "sha256:" + "c" * 64
LAYER = "sha256:" + "1" * 64
FOREIGN = "sha256:" + "f" * 64


def _manifest(**extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": CONFIG,
            "size": 2,
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": LAYER, "size": 5},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": LAYER, "size": 5},
            {
                "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                "digest": FOREIGN,
                "size": 9,
                "urls": ["https://example.invalid/layer"],
            },
        ],
        **extra,
    }


def _parse(document: Any, content_type: str | None = None) -> Any:
    return parse_manifest(json.dumps(document).encode(), content_type)


def test_image_manifest_needs_config_and_distributable_layers_once() -> None:
    refs = _parse(_manifest(mediaType=DOCKER_MANIFEST))
    assert refs.media_type == DOCKER_MANIFEST
    assert refs.blobs == (CONFIG, LAYER)
    assert refs.manifests == ()


def test_media_type_from_header_or_shape() -> None:
    assert _parse(_manifest(), OCI_MANIFEST + "; charset=utf-8").media_type == OCI_MANIFEST
    assert _parse(_manifest(), None).media_type == OCI_MANIFEST
    assert _parse(_manifest(), "application/json").media_type == OCI_MANIFEST
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": LAYER, "size": 3}],
    }
    refs = _parse(index)
    assert refs.media_type == OCI_INDEX and refs.manifests == (LAYER,) and refs.blobs == ()


@pytest.mark.parametrize(
    ("document", "content_type"),
    [
        (_manifest(mediaType=DOCKER_MANIFEST), OCI_MANIFEST),
        (_manifest(mediaType="application/vnd.docker.distribution.manifest.v1+json"), None),
        (_manifest(schemaVersion=1), None),
        (_manifest(config=None), None),
        (_manifest(config={"mediaType": "x", "digest": CONFIG, "size": -1}), None),
        (_manifest(config={"mediaType": "x", "digest": CONFIG, "size": True}), None),
        (_manifest(config={"mediaType": "x", "digest": "sha256:../../x", "size": 1}), None),
        (_manifest(layers=[1]), None),
        (_manifest(mediaType=7), None),
        ({"schemaVersion": 2, "manifests": {}}, OCI_INDEX),
        ([], None),
    ],
)
def test_invalid(document: Any, content_type: str | None) -> None:
    with pytest.raises(RegistryError) as caught:
        _parse(document, content_type)
    assert caught.value.code.code == "MANIFEST_INVALID"


def test_not_json_and_too_large() -> None:
    for body in (b"{", b"\xff", b" " * ((4 << 20) + 1)):
        with pytest.raises(RegistryError):
            parse_manifest(body, OCI_MANIFEST)
