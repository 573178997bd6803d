"""Pure tests of the credential-helper protocol: parsing, output format, URL matching."""

from __future__ import annotations

import json

import pytest

from doca.credhelper import protocol
from doca.credhelper.protocol import Credentials, ProtocolError


def test_store_input_parsed_and_url_kept_as_given() -> None:
    data = '{"ServerURL": "https://Registry.Example:5000/", "Username": "u", "Secret": "p"}\n'
    assert protocol.parse_store_input(data) == Credentials(
        "https://Registry.Example:5000/", "u", "p"
    )


def test_store_input_keys_case_insensitive_and_extra_keys_ignored() -> None:
    data = '{"serverurl": "r.example", "USERNAME": "u", "secret": "p", "Other": 1}'
    assert protocol.parse_store_input(data) == Credentials("r.example", "u", "p")


def test_store_input_spread_over_lines() -> None:
    data = '{"ServerURL":\n"r.example",\n"Username": "u",\n"Secret": "p"}\n'
    assert protocol.parse_store_input(data).server_url == "r.example"


def test_identity_token_username_kept() -> None:
    creds = protocol.parse_store_input(
        '{"ServerURL":"r.example","Username":"<token>","Secret":"t"}'
    )
    assert creds.username == "<token>"
    out = protocol.format_get_output("r.example", creds.username, creds.secret)
    assert out == '{"ServerURL":"r.example","Username":"\\u003ctoken\\u003e","Secret":"t"}\n'
    assert json.loads(out)["Username"] == "<token>"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "no credentials on stdin"),
        ("   \n", "no credentials on stdin"),
        ("{not json", "invalid credentials JSON"),
        ("[1, 2]", "expected an object"),
        ('{"Username": "u", "Secret": "p"}', protocol.MISSING_SERVER_URL),
        ('{"ServerURL": "r.example", "Secret": "p"}', protocol.MISSING_USERNAME),
        ('{"ServerURL": "r.example", "Username": "u"}', protocol.MISSING_SECRET),
        ('{"ServerURL": 5, "Username": "u", "Secret": "p"}', "ServerURL must be a string"),
        ('{"ServerURL": "ftp://r.example", "Username": "u", "Secret": "p"}', "unsupported scheme"),
        ('{"ServerURL": "https://", "Username": "u", "Secret": "p"}', "no hostname"),
        ('{"ServerURL": "r.exa mple", "Username": "u", "Secret": "p"}', "whitespace or control"),
        ('{"ServerURL": "r.example\\u0000x", "Username": "u", "Secret": "p"}', "control"),
        ('{"ServerURL": "r.example:99999", "Username": "u", "Secret": "p"}', "invalid server URL"),
    ],
)
def test_bad_store_input(data: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        protocol.parse_store_input(data)


def test_server_url_input_trimmed() -> None:
    assert protocol.parse_server_url_input("  https://r.example/v2/ \n") == "https://r.example/v2/"
    with pytest.raises(ProtocolError, match=protocol.MISSING_SERVER_URL):
        protocol.parse_server_url_input(" \n")


@pytest.mark.parametrize(
    "url",
    [
        "docker.io",
        "index.docker.io",
        "https://index.docker.io/v1/",
        "registry-1.docker.io",
        "https://registry.hub.docker.com",
        "HTTPS://Index.Docker.IO/v1",
    ],
)
def test_hub_aliases_normalise_to_cli_key(url: str) -> None:
    assert protocol.normalise_server_url(url) == protocol.HUB_URL


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("localhost:5000", "localhost:5000"),
        ("https://LocalHost:5000/", "localhost:5000"),
        ("http://r.example/v2/", "r.example"),
        ("r.example/v1/", "r.example"),
        ("https://r.example/some/path?x=1", "r.example/some/path"),
        ("[::1]:5000", "[::1]:5000"),
    ],
)
def test_normalise_other_registries(url: str, key: str) -> None:
    assert protocol.normalise_server_url(url) == key


def test_same_registry() -> None:
    assert protocol.same_registry("localhost:5000", "https://localhost:5000/")
    assert protocol.same_registry("https://index.docker.io/v1/", "docker.io")
    assert not protocol.same_registry("localhost:5000", "localhost:5001")
    assert not protocol.same_registry("localhost:5000", "localhost")
    assert not protocol.same_registry("a.example", "b.example")
    assert not protocol.same_registry("a.example", "ftp://a.example")


def test_list_output_sorted_compact() -> None:
    out = protocol.format_list_output({"z.example": "z", "a.example": "<token>"})
    assert out == '{"a.example":"\\u003ctoken\\u003e","z.example":"z"}\n'
    assert protocol.format_list_output({}) == "{}\n"
