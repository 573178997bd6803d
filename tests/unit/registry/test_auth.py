"""Challenges, credentials, token requests, the token cache and endpoint choice: pure parts."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import pytest

from engine.errors import InvalidParameter, Unauthorized
from engine.registry.auth import (
    Credentials,
    TokenCache,
    basic_header,
    parse_token_response,
    token_request,
)
from engine.registry.challenges import Challenge, parse_www_authenticate
from engine.registry.endpoints import RegistryEndpoint, is_insecure, lookup_endpoints
from engine.registry.errcodes import RegistryError, describe, engine_error, parse_errors


def test_parse_bearer_challenge() -> None:
    [challenge] = parse_www_authenticate(
        [
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/busybox:pull"'
        ]
    )
    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:library/busybox:pull",
    }


def test_parse_several_challenges_escapes_and_tokens() -> None:
    challenges = parse_www_authenticate(
        ['Basic realm="a \\"quoted\\" realm", Bearer realm=https://x/token, error=invalid_token']
    )
    assert [c.scheme for c in challenges] == ["basic", "bearer"]
    assert challenges[0].params["realm"] == 'a "quoted" realm'
    assert challenges[1].params == {"realm": "https://x/token", "error": "invalid_token"}


@pytest.mark.parametrize("header", ["", "   ", "=,=", '"', "Bearer realm=", "\x00\x01"])
def test_garbage_challenges_do_not_crash(header: str) -> None:
    parsed = parse_www_authenticate([header])
    assert all(isinstance(c, Challenge) for c in parsed)


def test_credentials_from_auth_config() -> None:
    creds = Credentials.from_auth_config(
        {"username": "u", "password": "p", "serveraddress": "reg:5000", "identitytoken": ""}
    )
    assert (creds.username, creds.password, creds.server_address) == ("u", "p", "reg:5000")
    encoded = base64.b64encode(b"bob:pa:ss").decode()
    creds = Credentials.from_auth_config({"auth": encoded, "identitytoken": "idt"})
    assert (creds.username, creds.password, creds.identity_token) == ("bob", "pa:ss", "idt")
    assert Credentials.from_auth_config({"registrytoken": "rt"}).registry_token == "rt"
    assert not Credentials.from_auth_config({"username": 5}).has_basic
    with pytest.raises(InvalidParameter):
        Credentials.from_auth_config({"auth": "!!notbase64"})
    with pytest.raises(InvalidParameter):
        Credentials.from_auth_config({"auth": base64.b64encode(b"nocolon").decode()})


def test_token_request_with_basic_credentials() -> None:
    challenge = Challenge("bearer", {"realm": "https://auth/token", "service": "reg"})
    creds = Credentials("u", "p")
    method, realm, params, headers = token_request(
        challenge, ["repository:a:pull", "repository:b:pull"], creds, ""
    )
    assert (method, realm) == ("GET", "https://auth/token")
    assert ("scope", "repository:a:pull") in params and ("scope", "repository:b:pull") in params
    assert ("service", "reg") in params and ("account", "u") in params
    assert headers == {"Authorization": basic_header("u", "p")}
    _, _, params, headers = token_request(challenge, ["repository:a:pull"], Credentials(), "")
    assert headers == {} and ("account", "u") not in params


def test_token_request_with_identity_token_is_oauth_refresh() -> None:
    challenge = Challenge("bearer", {"realm": "https://auth/token", "service": "reg"})
    method, _, form, headers = token_request(challenge, ["repository:a:pull"], Credentials(), "rt")
    assert method == "POST" and headers == {}
    assert dict(form) == {
        "grant_type": "refresh_token",
        "refresh_token": "rt",
        "service": "reg",
        "client_id": "docker",
        "scope": "repository:a:pull",
    }


@pytest.mark.parametrize("realm", ["", "file:///etc/passwd", "ftp://x/token", "/token"])
def test_token_request_refuses_odd_realms(realm: str) -> None:
    with pytest.raises(Unauthorized, match="realm"):
        token_request(Challenge("bearer", {"realm": realm}), [], Credentials(), "")


def test_token_response_variants() -> None:
    assert parse_token_response(b'{"token": "t", "expires_in": 600}').token == "t"
    response = parse_token_response(b'{"access_token": "a", "refresh_token": "r"}')
    assert (response.token, response.refresh_token, response.expires_in) == ("a", "r", 60.0)
    assert parse_token_response(b'{"token": "t", "expires_in": 3}').expires_in == 60.0
    for bad in (b"nope", b"[]", b'{"token": ""}', b'{"token": 5}'):
        with pytest.raises(Unauthorized):
            parse_token_response(bad)


def test_token_cache_expires() -> None:
    now = [100.0]
    cache = TokenCache(clock=lambda: now[0])
    key = ("realm", "svc", "repository:a:pull")
    cache.put(key, "tok", 60)
    assert cache.get(key) == "tok"
    assert cache.get(("realm", "svc", "repository:b:pull")) is None
    now[0] += 56  # within the safety margin before expiry
    assert cache.get(key) is None


def test_error_bodies_are_parsed_like_distribution() -> None:
    json_headers = {"Content-Type": "application/json; charset=utf-8"}
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
    errors = parse_errors(404, json_headers, body, [])
    assert describe(errors) == "manifest unknown: manifest unknown"
    details = parse_errors(401, json_headers, b'{"details":"incorrect username or password"}', [])
    assert describe(details) == "unauthorized: incorrect username or password"
    html = parse_errors(403, {"Content-Type": "text/html"}, b"<h1>go away</h1>", [])
    assert describe(html) == "denied: <h1>go away</h1>"
    scope = [Challenge("bearer", {"error": "insufficient_scope"})]
    denied = parse_errors(401, json_headers, b"{}", scope)
    assert str(denied[0]) == "denied: requested access to the resource is denied"
    assert describe(parse_errors(500, {}, b"", [])).startswith("unknown: received unexpected")


def test_engine_error_classes() -> None:
    assert type(engine_error(404, [RegistryError("BLOB_UNKNOWN", "x")])).__name__ == "NotFound"
    assert type(engine_error(400, [RegistryError("DIGEST_INVALID", "x")])).__name__ == (
        "InvalidParameter"
    )
    assert type(engine_error(403, [RegistryError("DENIED", "x")])).__name__ == "Forbidden"
    assert type(engine_error(429, [RegistryError("TOOMANYREQUESTS", "x")])).__name__ == (
        "Unavailable"
    )


def test_docker_hub_endpoint() -> None:
    [hub] = lookup_endpoints("docker.io")
    assert (hub.host, hub.scheme, hub.insecure) == ("registry-1.docker.io", "https", False)
    assert hub.is_docker_hub and hub.name == "docker.io"
    assert lookup_endpoints("index.docker.io")[0].host == "registry-1.docker.io"


def test_secure_registry_is_https_only() -> None:
    assert [(e.scheme, e.insecure) for e in lookup_endpoints("registry.example.com:5000")] == [
        ("https", False)
    ]
    with pytest.raises(InvalidParameter, match="insecure-registries"):
        RegistryEndpoint("registry.example.com", "http")


@pytest.mark.parametrize(
    ("host", "insecure_list", "expected"),
    [
        ("localhost:5000", [], True),
        ("127.0.0.1:5000", [], True),
        ("127.8.9.10", [], True),
        ("[::1]:5000", [], True),
        ("10.1.2.3:5000", [], False),
        ("10.1.2.3:5000", ["10.0.0.0/8"], True),
        ("myreg:5000", ["myreg:5000"], True),
        ("myreg:5000", ["myreg"], True),
        ("myreg:6000", ["other:6000"], False),
        ("evil.localhost.example", [], False),
    ],
)
def test_insecure_registries(host: str, insecure_list: list[str], expected: bool) -> None:
    assert is_insecure(host, insecure_list) is expected


def test_insecure_registry_tries_https_then_http() -> None:
    endpoints = lookup_endpoints("127.0.0.1:5000")
    assert [(e.scheme, e.insecure) for e in endpoints] == [("https", True), ("http", True)]
    context = endpoints[0].tls_context()
    assert context is not None and context.verify_mode == ssl.CERT_NONE
    assert endpoints[1].tls_context() is None


def test_certs_d_layout(tmp_path: Path) -> None:
    directory = tmp_path / "reg.example:5000"
    directory.mkdir()
    (directory / "client.key").write_text("orphan key")
    [endpoint] = lookup_endpoints("reg.example:5000", certs_dir=tmp_path)
    with pytest.raises(InvalidParameter, match=r"client\.cert"):
        endpoint.tls_context()
    (directory / "client.key").unlink()
    (directory / "ca.crt").write_text("not a certificate")
    with pytest.raises(ssl.SSLError):
        endpoint.tls_context()
    (directory / "ca.crt").unlink()
    context = endpoint.tls_context()
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
