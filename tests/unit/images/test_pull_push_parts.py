"""Pure parts of pull and push: platform queries, references, manifests, push targets,
the distribution map and the RegistryConfig of /info."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.config import EngineConfig
from engine.errors import InvalidParameter, NotFound, NotImplementedByEngine
from engine.images.distribution_map import MAX_REPOS_PER_BLOB, DistributionMap
from engine.images.load import host_arch
from engine.images.platform_query import check_platform, parse_platform
from engine.images.pull import pull_reference
from engine.images.push import push_targets, schema2_manifest
from engine.images.reference import parse_normalized_named
from engine.images.registry_access import candidates, login_domain, registry_config_info
from engine.registry import mediatypes
from engine.registry.platforms import Platform

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        ("linux/arm64/v8", Platform("linux", "arm64")),
        ("linux/aarch64", Platform("linux", "arm64")),
        ("linux/arm/v7", Platform("linux", "arm", "v7")),
        ("arm64", Platform("linux", "arm64")),
        ("linux", Platform("linux", host_arch())),
        ("", Platform("linux", host_arch())),
    ],
)
def test_parse_platform(query: str, expected: Platform) -> None:
    assert parse_platform(query) == expected


@pytest.mark.parametrize("query", ["linux/amd64/v2/x", "linux//amd64", "linux/am d64"])
def test_parse_platform_refuses_malformed(query: str) -> None:
    with pytest.raises(InvalidParameter, match="unknown operating system or architecture"):
        parse_platform(query)


def test_pull_reference_reads_tag_or_digest() -> None:
    assert str(pull_reference("busybox", "1")) == "docker.io/library/busybox:1"
    assert str(pull_reference("busybox:2")) == "docker.io/library/busybox:2"
    by_digest = pull_reference("127.0.0.1:5000/x/busybox", D1)
    assert (by_digest.tag, by_digest.digest) == (None, D1)
    assert pull_reference(f"busybox:1@{D1}").tag is None
    with pytest.raises(NotImplementedByEngine):
        pull_reference("busybox")
    with pytest.raises(InvalidParameter):
        pull_reference("busybox", "sha256:short")


def test_schema2_manifest_is_indented_like_dockerd() -> None:
    raw = schema2_manifest((D1, 10), [(D2, 20)])
    assert raw.startswith(b'{\n   "schemaVersion": 2,\n   "mediaType": ')
    document = json.loads(raw)
    assert document["mediaType"] == mediatypes.DOCKER_MANIFEST
    assert document["config"] == {
        "mediaType": mediatypes.DOCKER_CONFIG,
        "size": 10,
        "digest": D1,
    }
    assert document["layers"] == [{"mediaType": mediatypes.DOCKER_LAYER, "size": 20, "digest": D2}]


def test_push_targets() -> None:
    refs = {
        "127.0.0.1:5000/x/busybox:b": "sha256:i1",
        "127.0.0.1:5000/x/busybox:a": "sha256:i1",
        f"127.0.0.1:5000/x/busybox@{D1}": "sha256:i1",
        "docker.io/library/busybox:latest": "sha256:i1",
    }
    name = parse_normalized_named("127.0.0.1:5000/x/busybox")
    assert [r.tag for r in push_targets(refs, name, None)] == ["a", "b"]
    assert [r.tag for r in push_targets(refs, name, "b")] == ["b"]
    with pytest.raises(NotFound, match=r"^tag does not exist: 127\.0\.0\.1:5000/x/busybox:c$"):
        push_targets(refs, name, "c")
    other = parse_normalized_named("127.0.0.1:5000/y")
    with pytest.raises(
        NotFound, match=r"^An image does not exist locally with the tag: 127\.0\.0\.1:5000/y$"
    ):
        push_targets(refs, other, "1")


def test_distribution_map_persists_and_bounds(tmp_path: Path) -> None:
    path = tmp_path / "d" / "layers.json"
    known = DistributionMap(path)
    known.record("sha256:diff", D1, 10, "reg:5000", "x/a")
    known.record("sha256:diff", D2, 11, "reg:5000", "x/b")
    for n in range(MAX_REPOS_PER_BLOB + 2):
        known.record("sha256:diff", D1, 10, "reg:5000", f"r/{n}")
    again = DistributionMap(path).load()
    assert again.digests_for("sha256:diff") == [(D1, 10), (D2, 11)]
    repos = again.repos_for("reg:5000", D1)
    assert len(repos) == MAX_REPOS_PER_BLOB and repos[0] == f"r/{MAX_REPOS_PER_BLOB + 1}"
    assert again.repos_for("other:1", D1) == []
    path.write_text("not json")
    assert DistributionMap(path).load().digests_for("sha256:diff") == []


def test_endpoints_mirrors_first_for_docker_hub_pulls() -> None:
    config = EngineConfig(registry_mirrors=["http://127.0.0.1:5001"])
    found = candidates("docker.io", config, pull=True)
    assert [(c.endpoint.base_url, c.mirror) for c in found] == [
        ("http://127.0.0.1:5001", True),
        ("https://registry-1.docker.io", False),
    ]
    assert found[0].endpoint.is_docker_hub
    assert not any(c.mirror for c in candidates("docker.io", config, pull=False))
    local = candidates("127.0.0.1:5000", config, pull=True)
    assert [c.endpoint.scheme for c in local] == ["https", "http"]
    insecure = EngineConfig(insecure_registries=["reg.example:5000"])
    assert [c.endpoint.scheme for c in candidates("reg.example:5000", insecure, True)] == [
        "https",
        "http",
    ]


def test_login_domain() -> None:
    assert login_domain("https://index.docker.io/v1/") == "docker.io"
    assert login_domain("") == "docker.io"
    assert login_domain("127.0.0.1:5000") == "127.0.0.1:5000"
    assert login_domain("http://127.0.0.1:5000/v2/") == "127.0.0.1:5000"


def test_registry_config_info() -> None:
    config = EngineConfig(
        insecure_registries=["10.1.0.0/16", "reg.example:5000"],
        registry_mirrors=["https://mirror.example"],
    )
    info = registry_config_info(config)
    assert info["InsecureRegistryCIDRs"] == ["127.0.0.0/8", "::1/128", "10.1.0.0/16"]
    assert info["Mirrors"] == ["https://mirror.example/"]
    assert info["IndexConfigs"]["docker.io"]["Mirrors"] == ["https://mirror.example/"]
    assert info["IndexConfigs"]["reg.example:5000"]["Secure"] is False


def test_check_platform_of_a_single_platform_image() -> None:
    config = {"os": "linux", "architecture": "amd64"}
    check_platform("x:1", config, Platform("linux", "amd64"))
    with pytest.raises(NotFound, match="wanted linux/arm64, actual: linux/amd64"):
        check_platform("x:1", config, Platform("linux", "arm64"))
