"""engine.build.options: ``POST /build``'s query and X-Registry-Config header, decoded as
dockerd's build router decodes them."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from multidict import MultiDict

from engine.build.options import (
    BuildOptions,
    auth_for,
    host_config,
    parse_options,
    registry_config,
)
from engine.errors import InvalidParameter, NotImplementedByEngine

MB = 1024 * 1024


def options(*pairs: tuple[str, str], header: str = "") -> BuildOptions:
    return parse_options(MultiDict(pairs), header)


def encode(configs: Any, pad: bool = True) -> str:
    text = base64.urlsafe_b64encode(orjson.dumps(configs)).decode()
    return text if pad else text.rstrip("=")


def test_defaults() -> None:
    opts = options()
    assert opts == BuildOptions()
    assert opts.dockerfile == "Dockerfile"
    assert opts.remove and not opts.force_remove and not opts.no_cache and not opts.quiet
    assert opts.build_args == {} and opts.labels == {} and opts.tags == []
    assert host_config(opts) == {"NetworkMode": "default"}


def test_what_the_docker_cli_sends() -> None:
    opts = options(
        ("t", "app:1"), ("t", "registry.example.com/app:latest"), ("t", ""),
        ("dockerfile", "build/Dockerfile.dev"), ("q", "1"), ("nocache", "1"), ("rm", "0"),
        ("forcerm", "1"), ("pull", "1"), ("target", "build"), ("networkmode", "host"),
        ("platform", "linux/amd64"), ("cpusetcpus", "0-1"), ("cpushares", "512"),
        ("cpuquota", "50000"), ("cpuperiod", "100000"), ("memory", str(64 * MB)),
        ("memswap", "-1"), ("shmsize", str(128 * MB)), ("cachefrom", '["app:0"]'),
        ("labels", '{"org.example.team": "core"}'), ("remote", "https://example.com/ctx.tar"),
        ("ulimits", '[{"Name": "nofile", "Soft": 1024, "Hard": 2048}]'),
    )  # fmt: skip
    assert opts.tags == ["app:1", "registry.example.com/app:latest"]
    assert opts.dockerfile == "build/Dockerfile.dev"
    assert opts.quiet and opts.no_cache and opts.pull and opts.force_remove
    assert not opts.remove
    assert (opts.target, opts.network_mode, opts.platform) == ("build", "host", "linux/amd64")
    assert opts.cache_from == ["app:0"]
    assert opts.labels == {"org.example.team": "core"}
    assert opts.remote == "https://example.com/ctx.tar"
    assert host_config(opts) == {
        "NetworkMode": "host",
        "Memory": 64 * MB,
        "MemorySwap": -1,
        "CpuShares": 512,
        "CpuQuota": 50000,
        "CpuPeriod": 100000,
        "CpusetCpus": "0-1",
        "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
        "ShmSize": 128 * MB,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("True", True), ("yes", True), (" 1 ", True), ("x", True),
     ("0", False), ("false", False), ("no", False), ("none", False), ("", False)],
)  # fmt: skip
def test_booleans_read_as_dockerd_reads_them(value: str, expected: bool) -> None:
    assert options(("nocache", value)).no_cache is expected
    if value:
        assert options(("rm", value)).remove is expected


def test_rm_defaults_to_true() -> None:
    assert options().remove
    assert options(("rm", "False")).remove is False  # docker-py sends Python's bools


def test_empty_rm_means_the_default() -> None:
    assert options(("rm", "")).remove


def test_build_args_keep_null_values() -> None:
    # `--build-arg NAME` with NAME unset in the client's environment arrives as null.
    opts = options(("buildargs", '{"HTTP_PROXY": "http://proxy:3128", "UNSET": null}'))
    assert opts.build_args == {"HTTP_PROXY": "http://proxy:3128", "UNSET": None}
    assert options(("buildargs", "")).build_args == {}
    assert options(("buildargs", "null")).build_args == {}


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("buildargs", "{bad"),
        ("buildargs", '["A=1"]'),
        ("buildargs", '{"A": 1}'),
        ("buildargs", '{"A": ["x"]}'),
        ("labels", '{"A": null}'),
        ("labels", '"text"'),
        ("cachefrom", '{"a": 1}'),
        ("cachefrom", "[1"),
        ("ulimits", "{}"),
        ("memory", "lots"),
        ("shmsize", "1.5"),
        ("memory", "-1"),
        ("shmsize", "-1"),
    ],
)
def test_bad_values_are_invalid_parameters(name: str, raw: str) -> None:
    with pytest.raises(InvalidParameter):
        options((name, raw))


def test_buildkit_is_not_implemented() -> None:
    with pytest.raises(NotImplementedByEngine, match="DOCKER_BUILDKIT=0"):
        options(("version", "2"))
    assert options(("version", "1")) == BuildOptions()


def test_unknown_builder_version_is_refused() -> None:
    with pytest.raises(InvalidParameter):
        options(("version", "3"))


def test_squash_needs_experimental_mode() -> None:
    with pytest.raises(InvalidParameter, match="experimental"):
        options(("squash", "1"))
    assert options(("squash", "0")) == BuildOptions()


def test_memory_under_6mb_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="Minimum memory limit allowed is 6MB"):
        options(("memory", str(6 * MB - 1)))
    assert options(("memory", str(6 * MB))).memory == 6 * MB
    assert options(("memory", "0")).memory == 0


def test_extrahosts_split_at_commas_and_blanks() -> None:
    opts = options(("extrahosts", "a:10.0.0.1,b:10.0.0.2 c:10.0.0.3"))
    assert opts.extra_hosts == ["a:10.0.0.1", "b:10.0.0.2", "c:10.0.0.3"]
    assert host_config(opts)["ExtraHosts"] == opts.extra_hosts
    assert "ExtraHosts" not in host_config(options(("extrahosts", "")))


def test_extrahosts_repeated() -> None:
    opts = options(("extrahosts", "a:10.0.0.1"), ("extrahosts", "b:10.0.0.2"))
    assert opts.extra_hosts == ["a:10.0.0.1", "b:10.0.0.2"]


def test_host_config_leaves_out_unset_values() -> None:
    config = host_config(options(("cpushares", "0"), ("cpusetcpus", ""), ("networkmode", "")))
    assert config == {"NetworkMode": "default"}


# X-Registry-Config and the auth a FROM pull uses


def test_registry_config_decodes_base64url_json() -> None:
    configs = {
        "https://index.docker.io/v1/": {"username": "hub", "password": "p?>"},
        "registry.example.com:5000": {"auth": base64.b64encode(b"u:p").decode()},
    }
    assert registry_config(encode(configs)) == configs
    assert registry_config(encode(configs, pad=False)) == configs


def test_registry_config_empty_and_odd_shapes() -> None:
    assert registry_config("") == {}
    assert registry_config("e30=") == {}  # the docker CLI's "{}"
    assert registry_config(encode([1, 2])) == {}
    assert registry_config(encode({"a": {"username": "x"}, "b": "text"})) == {
        "a": {"username": "x"}
    }


def test_registry_config_reaches_the_options() -> None:
    opts = options(header=encode({"example.com": {"username": "me"}}))
    assert opts.auth_configs == {"example.com": {"username": "me"}}


@pytest.mark.parametrize("header", ["!!!", base64.urlsafe_b64encode(b"not json").decode()])
def test_undecodable_registry_config_is_ignored(header: str) -> None:
    assert registry_config(header) == {}


@pytest.mark.parametrize("key", ["https://index.docker.io/v1/", "docker.io", "index.docker.io"])
def test_docker_hub_auth_under_its_legacy_keys(key: str) -> None:
    opts = BuildOptions(auth_configs={key: {"username": "hub"}, "quay.io": {"username": "q"}})
    assert auth_for(opts, "docker.io") == {"username": "hub"}


def test_docker_hub_prefers_the_cli_key() -> None:
    opts = BuildOptions(
        auth_configs={
            "docker.io": {"username": "b"},
            "https://index.docker.io/v1/": {"username": "a"},
        }
    )
    assert auth_for(opts, "docker.io") == {"username": "a"}


@pytest.mark.parametrize("key", ["quay.io", "https://quay.io", "http://quay.io"])
def test_other_registries_by_host(key: str) -> None:
    opts = BuildOptions(auth_configs={key: {"username": "q"}})
    assert auth_for(opts, "quay.io") == {"username": "q"}
    assert auth_for(opts, "docker.io") == {}
    assert auth_for(opts, "ghcr.io") == {}


def test_legacy_registry_key_with_a_path() -> None:
    opts = BuildOptions(auth_configs={"https://registry.example.com/v1/": {"username": "r"}})
    assert auth_for(opts, "registry.example.com") == {"username": "r"}
