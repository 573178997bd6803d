"""Registry authentication: credentials from ``X-Registry-Auth``, Basic and Bearer tokens.

Bearer tokens follow the distribution token spec: ``GET realm?service=&scope=`` with Basic
credentials, or an OAuth2 ``refresh_token`` grant when the user holds an identity token.
Tokens are cached per (realm, service, scope) until shortly before they expire.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from engine.errors import InvalidParameter, Unauthorized
from engine.registry.challenges import Challenge

CLIENT_ID = "docker"
# distribution raises shorter lifetimes to this, so a token is not refetched for every request.
MIN_TOKEN_LIFETIME = 60.0
# Refetch a little before expiry so a request never leaves with a token that dies in flight.
_EXPIRY_MARGIN = 5.0
_MAX_TOKEN_RESPONSE = 1 << 20


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""
    server_address: str = ""

    @classmethod
    def from_auth_config(cls, config: Mapping[str, Any]) -> Credentials:
        """From the engine API's decoded ``X-Registry-Auth`` (or ``POST /auth``) JSON."""

        def text(key: str) -> str:
            value = config.get(key)
            return value if isinstance(value, str) else ""

        username, password = text("username"), text("password")
        encoded = text("auth")
        if encoded and not (username or password):
            try:
                decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise InvalidParameter("invalid auth configuration: bad base64 in auth") from exc
            username, sep, password = decoded.partition(":")
            if not sep:
                raise InvalidParameter("invalid auth configuration: auth is not user:password")
            password = password.strip("\x00")
        return cls(
            username=username,
            password=password,
            identity_token=text("identitytoken"),
            registry_token=text("registrytoken"),
            server_address=text("serveraddress"),
        )

    @property
    def has_basic(self) -> bool:
        return bool(self.username and self.password)


def basic_header(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class TokenResponse:
    token: str
    expires_in: float
    refresh_token: str = ""


def parse_token_response(body: bytes) -> TokenResponse:
    """The JSON a token endpoint returns; ``access_token`` (OAuth2) stands for ``token``."""
    if len(body) > _MAX_TOKEN_RESPONSE:
        raise Unauthorized("token response too large")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Unauthorized(f"unable to decode token response: {exc}") from exc
    if not isinstance(data, dict):
        raise Unauthorized("unable to decode token response: not a JSON object")
    token = data.get("access_token") or data.get("token")
    if not isinstance(token, str) or not token:
        raise Unauthorized("authorization server did not include a token in the response")
    expires_in = data.get("expires_in")
    if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
        expires_in = 0
    refresh = data.get("refresh_token")
    lifetime = max(float(expires_in), MIN_TOKEN_LIFETIME)
    return TokenResponse(token, lifetime, refresh if isinstance(refresh, str) else "")


class TokenCache:
    """Bearer tokens keyed by (realm, service, scope), dropped once they are about to expire."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}

    def get(self, key: tuple[str, str, str]) -> str | None:
        entry = self._tokens.get(key)
        if entry is None:
            return None
        token, deadline = entry
        if self._clock() >= deadline:
            del self._tokens[key]
            return None
        return token

    def put(self, key: tuple[str, str, str], token: str, expires_in: float) -> None:
        lifetime = max(expires_in - _EXPIRY_MARGIN, 1.0)
        self._tokens[key] = (token, self._clock() + lifetime)

    def drop(self, key: tuple[str, str, str]) -> None:
        self._tokens.pop(key, None)


# Performs the HTTP exchange with a token endpoint: (method, realm, params, headers) → token.
TokenFetcher = Callable[[str, str, list[tuple[str, str]], dict[str, str]], Awaitable[TokenResponse]]


def token_request(
    challenge: Challenge, scopes: Sequence[str], credentials: Credentials, refresh_token: str
) -> tuple[str, str, list[tuple[str, str]], dict[str, str]]:
    """(method, realm, parameters, headers) of the request that obtains a bearer token.

    With a refresh (identity) token it is an OAuth2 POST form; otherwise a GET with Basic
    credentials when there are some, anonymous when not.
    """
    realm = challenge.params.get("realm", "")
    if not realm.startswith(("https://", "http://")):
        raise Unauthorized(f"invalid token auth challenge realm {realm[:200]!r}")
    service = challenge.params.get("service", "")
    if refresh_token:
        form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("service", service),
            ("client_id", CLIENT_ID),
            ("scope", " ".join(scopes)),
        ]
        return "POST", realm, form, {}
    params: list[tuple[str, str]] = []
    if service:
        params.append(("service", service))
    params.extend(("scope", scope) for scope in scopes)
    headers: dict[str, str] = {}
    if credentials.has_basic:
        # offline_token asks for a refresh token: ``docker login`` stores it as identity token.
        params += [
            ("account", credentials.username),
            ("offline_token", "true"),
            ("client_id", CLIENT_ID),
        ]
        headers["Authorization"] = basic_header(credentials.username, credentials.password)
    return "GET", realm, params, headers


class Authenticator:
    """Chooses the Authorization header for each request to one registry."""

    def __init__(self, credentials: Credentials, fetch: TokenFetcher, cache: TokenCache) -> None:
        self.credentials = credentials
        self._fetch = fetch
        self._cache = cache
        self.challenge: Challenge | None = None
        # Starts as the user's identity token; a token server may hand out a new one.
        self.refresh_token = credentials.identity_token

    def learn(self, challenges: Sequence[Challenge]) -> bool:
        """Remember the registry's preferred challenge; False if none is usable."""
        for scheme in ("bearer", "basic"):
            for challenge in challenges:
                if challenge.scheme == scheme:
                    self.challenge = challenge
                    return True
        return False

    def _key(self, scopes: Sequence[str]) -> tuple[str, str, str]:
        params = self.challenge.params if self.challenge else {}
        return (params.get("realm", ""), params.get("service", ""), " ".join(sorted(scopes)))

    def forget(self, scopes: Sequence[str]) -> None:
        """Drop a cached token the registry just refused."""
        self._cache.drop(self._key(scopes))

    async def authorization(self, scopes: Sequence[str]) -> str | None:
        """The Authorization header for a request needing ``scopes``; None to go anonymous."""
        if self.credentials.registry_token:
            return "Bearer " + self.credentials.registry_token
        challenge = self.challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if not self.credentials.has_basic:
                return None
            return basic_header(self.credentials.username, self.credentials.password)
        if not scopes and challenge.params.get("scope"):
            scopes = challenge.params["scope"].split(" ")
        key = self._key(scopes)
        token = self._cache.get(key)
        if token is None:
            method, realm, params, headers = token_request(
                challenge, scopes, self.credentials, self.refresh_token
            )
            response = await self._fetch(method, realm, params, headers)
            if response.refresh_token:
                self.refresh_token = response.refresh_token
            token = response.token
            self._cache.put(key, token, response.expires_in)
        return "Bearer " + token
