"""`-p` specs read as the docker CLI reads them."""

from __future__ import annotations

import click
import pytest

from doca.cli.networks import port_lines
from doca.cli.publish import apply_publish, parse_publish


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [("80/tcp", "", "")]),
        ("8080:80", [("80/tcp", "", "8080")]),
        ("127.0.0.1:8080:80/udp", [("80/udp", "127.0.0.1", "8080")]),
        ("127.0.0.1::80", [("80/tcp", "127.0.0.1", "")]),
        ("8000-8010:80", [("80/tcp", "", "8000-8010")]),
        ("8000-8001:80-81", [("80/tcp", "", "8000"), ("81/tcp", "", "8001")]),
        ("80-81", [("80/tcp", "", ""), ("81/tcp", "", "")]),
        ("[::1]:8080:80", [("80/tcp", "::1", "8080")]),
    ],
)
def test_specs(spec: str, expected: list[tuple[str, str, str]]) -> None:
    assert parse_publish(spec) == expected


@pytest.mark.parametrize(
    "spec", ["", "0", "70000", "80/xyz", "a:b", "1:2:3:4", "8000-8002:80-81", "90-80", "[::1"]
)
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_publish(spec)


def test_apply_publish_fills_the_create_body() -> None:
    config: dict = {"HostConfig": {}}
    apply_publish(config, ("8080:80", "127.0.0.1:9090:80", "53/udp"), publish_all=True)
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert config["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "127.0.0.1", "HostPort": "9090"}],
        "53/udp": [{"HostIp": "", "HostPort": ""}],
    }
    assert config["HostConfig"]["PublishAllPorts"] is True


def test_port_lines_match_docker_port() -> None:
    ports = {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
        "53/udp": None,
    }
    assert port_lines(ports, None) == ["80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080"]
    assert port_lines(ports, "80") == ["0.0.0.0:8080", "[::]:8080"]
    assert port_lines(ports, "53/udp") == []
