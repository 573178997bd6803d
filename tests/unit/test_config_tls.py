"""TLS flags and client bounds in the engine's settings, read as dockerd reads its TLS flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.config import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    default_cert_dir,
    load_config,
)
from engine.errors import InvalidParameter


def _load_file(tmp_path: Path, values: dict[str, Any], *flags: str) -> Any:
    path = tmp_path / "daemon.json"
    path.write_bytes(orjson.dumps(values))
    return load_config(["--config-file", str(path), *flags])


def test_defaults_have_no_tls_and_dockerds_cert_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("HOME", "/root")
    config = load_config([])
    assert (config.tls, config.tlsverify) == (None, None)
    assert not config.tls_enabled and not config.tls_verify
    assert config.tlscacert == Path("/root/.docker/ca.pem")
    assert config.tlscert == Path("/root/.docker/cert.pem")
    assert config.tlskey == Path("/root/.docker/key.pem")
    assert config.api_header_timeout == DEFAULT_HEADER_TIMEOUT
    assert config.api_idle_timeout == DEFAULT_IDLE_TIMEOUT
    assert config.api_max_connections == DEFAULT_MAX_CONNECTIONS


def test_cert_dir_follows_dockerds_environment() -> None:
    assert default_cert_dir({"HOME": "/home/u"}) == Path("/home/u/.docker")
    assert default_cert_dir({"HOME": "/h", "DOCKER_CONFIG": "/cfg"}) == Path("/cfg")
    env = {"HOME": "/h", "DOCKER_CONFIG": "/cfg", "DOCKER_CERT_PATH": "/certs"}
    assert default_cert_dir(env) == Path("/certs")


@pytest.mark.parametrize(
    ("flags", "enabled", "verify"),
    [
        (["--tlsverify"], True, True),
        (["--tlsverify=true"], True, True),
        (["--tls"], True, True),  # dockerd verifies unless told --tlsverify=false
        (["--tls", "--tlsverify=false"], True, False),
        (["--tlsverify=false"], True, False),  # any --tlsverify turns TLS on
        (["--tls=false"], False, False),
        (["--tls=false", "--tlsverify"], True, True),
        ([], False, False),
    ],
)
def test_tls_flags(flags: list[str], enabled: bool, verify: bool) -> None:
    config = load_config(flags)
    assert (config.tls_enabled, config.tls_verify) == (enabled, verify)


def test_tls_paths_from_flags() -> None:
    config = load_config(
        ["--tlscacert", "/p/ca.pem", "--tlscert", "/p/server.pem", "--tlskey", "/p/server-key.pem"]
    )
    assert config.tlscacert == Path("/p/ca.pem")
    assert config.tlscert == Path("/p/server.pem")
    assert config.tlskey == Path("/p/server-key.pem")


def test_a_bad_boolean_flag_exits() -> None:
    with pytest.raises(SystemExit):
        load_config(["--tlsverify=maybe"])


def test_tls_and_bounds_from_daemon_json(tmp_path: Path) -> None:
    config = _load_file(
        tmp_path,
        {
            "tls": True,
            "tlsverify": True,
            "tlscacert": "/etc/doca/ca.pem",
            "tlscert": "/etc/doca/server.pem",
            "tlskey": "/etc/doca/server-key.pem",
            "api-header-timeout": 5,
            "api-idle-timeout": 60.5,
            "api-max-connections": 0,
        },
    )
    assert config.tls_enabled and config.tls_verify
    assert config.tlscacert == Path("/etc/doca/ca.pem")
    assert config.tlscert == Path("/etc/doca/server.pem")
    assert config.tlskey == Path("/etc/doca/server-key.pem")
    assert config.api_header_timeout == 5.0
    assert config.api_idle_timeout == 60.5
    assert config.api_max_connections == 0


def test_tlsverify_false_in_daemon_json_still_turns_tls_on(tmp_path: Path) -> None:
    config = _load_file(tmp_path, {"tlsverify": False})
    assert config.tls_enabled and not config.tls_verify


def test_tls_key_in_file_and_flag_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="both as a flag and in the configuration file"):
        _load_file(tmp_path, {"tlsverify": True}, "--tlsverify")


@pytest.mark.parametrize(
    "values",
    [
        {"tls": "yes"},
        {"tlsverify": 1},
        {"tlscert": ""},
        {"tlskey": 3},
        {"api-header-timeout": 0},
        {"api-idle-timeout": -1},
        {"api-header-timeout": "30s"},
        {"api-idle-timeout": True},
        {"api-max-connections": -1},
        {"api-max-connections": 1.5},
    ],
)
def test_bad_tls_and_bound_values(tmp_path: Path, values: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter):
        _load_file(tmp_path, values)


@pytest.mark.parametrize("value", ["0", "-2", "inf", "nan"])
def test_bad_timeout_flag(value: str) -> None:
    with pytest.raises(InvalidParameter, match="api-header-timeout"):
        load_config(["--api-header-timeout", value])
