"""The one place that talks HTTP to a registry: sessions, TLS, auth retry and redirects.

Every request carries the Authorization the registry's last challenge calls for, and is sent
again once after a 401 with fresh credentials. Redirects (blob downloads go to storage
backends) are followed by hand so that Authorization never reaches another host.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Sequence

import aiohttp
from yarl import URL

from engine.errors import EngineError, InvalidParameter, SystemError_
from engine.registry.auth import Authenticator, Credentials, TokenCache, TokenResponse
from engine.registry.auth import parse_token_response as _parse_token
from engine.registry.challenges import parse_www_authenticate
from engine.registry.endpoints import RegistryEndpoint
from engine.registry.errcodes import engine_error, parse_errors

MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_ERROR_BODY = 64 * 1024
_MAX_TOKEN_BODY = 1 << 20


class RegistryUnreachable(SystemError_):
    """The registry could not be reached or the connection broke mid-request."""


def go_method(method: str) -> str:
    """``GET`` → ``Get``, as Go's url.Error names the operation in dockerd's messages."""
    return method.capitalize()


class Transport:
    """HTTP to one registry endpoint with one set of credentials."""

    def __init__(
        self,
        endpoint: RegistryEndpoint,
        credentials: Credentials,
        session: aiohttp.ClientSession | None,
        user_agent: str,
        timeout: aiohttp.ClientTimeout,
    ) -> None:
        self.endpoint = endpoint
        self.user_agent = user_agent
        self.timeout = timeout
        self._session = session
        self._owns_session = session is None
        self._tls: ssl.SSLContext | None = None
        self._tls_ready = False
        self.auth = Authenticator(credentials, self._fetch_token, TokenCache())

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path: str) -> URL:
        return URL(self.endpoint.base_url + path, encoded=True)

    async def _ensure(self) -> aiohttp.ClientSession:
        if not self._tls_ready:
            # Loading CA bundles and client keys reads files: keep it off the event loop.
            self._tls = await asyncio.to_thread(self.endpoint.tls_context)
            self._tls_ready = True
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    def _ssl_for(self, url: URL) -> ssl.SSLContext | bool:
        # Only the registry itself is covered by its certs.d / insecure settings; storage
        # backends and token servers elsewhere get ordinary verification.
        if (
            self._tls is not None
            and url.host_port_subcomponent == URL(self.endpoint.base_url).host_port_subcomponent
        ):
            return self._tls
        return True

    async def raw(
        self,
        method: str,
        url: URL,
        headers: dict[str, str],
        data: bytes | None = None,
        follow_redirects: bool = False,
    ) -> aiohttp.ClientResponse:
        """One exchange, redirects followed by hand (Authorization dropped across hosts)."""
        session = await self._ensure()
        headers = {"User-Agent": self.user_agent, **headers}
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = await session.request(
                    method,
                    url,
                    headers=headers,
                    data=data,
                    allow_redirects=False,
                    ssl=self._ssl_for(url),
                    timeout=self.timeout,
                )
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise RegistryUnreachable(
                    f'{go_method(method)} "{url.with_query(None)}": {_describe(exc)}'
                ) from exc
            if not follow_redirects or response.status not in _REDIRECTS:
                return response
            location = response.headers.get("Location", "")
            response.release()
            if not location:
                raise SystemError_(f"registry redirect from {url} without a Location")
            target = url.join(URL(location, encoded=True))
            if target.scheme not in ("http", "https"):
                raise SystemError_(f"registry redirected to unsupported URL {location[:200]!r}")
            if target.origin() != url.origin():
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = target
        raise SystemError_(f"registry sent more than {MAX_REDIRECTS} redirects for {url}")

    async def send(
        self,
        method: str,
        url: URL,
        scopes: Sequence[str],
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        follow_redirects: bool = False,
    ) -> aiohttp.ClientResponse:
        """A request with authorization, sent again once after a 401 that can be answered."""
        headers = dict(headers or {})
        same_origin = url.origin() == URL(self.endpoint.base_url).origin()
        sent = await self.auth.authorization(scopes) if same_origin else None
        response = await self.raw(method, url, _with_auth(headers, sent), data, follow_redirects)
        if response.status != 401 or not same_origin:
            return response
        challenges = parse_www_authenticate(response.headers.getall("WWW-Authenticate", []))
        if not self.auth.learn(challenges):
            return response
        if sent and sent.startswith("Bearer "):
            self.auth.forget(scopes)  # expired or revoked: ask for a new one
        fresh = await self.auth.authorization(scopes)
        if fresh is None or fresh == sent:
            return response  # nothing new to offer: the caller reports the 401
        response.release()
        return await self.raw(method, url, _with_auth(headers, fresh), data, follow_redirects)

    @contextlib.asynccontextmanager
    async def request(
        self,
        method: str,
        url: URL,
        scopes: Sequence[str],
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        follow_redirects: bool = False,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        response = await self.send(method, url, scopes, headers, data, follow_redirects)
        try:
            yield response
        finally:
            response.release()

    async def _fetch_token(
        self, method: str, realm: str, params: list[tuple[str, str]], headers: dict[str, str]
    ) -> TokenResponse:
        url = URL(realm)
        if method == "GET":
            url = url.extend_query(params)
            body = None
        else:
            headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
            body = URL.build(query=params).raw_query_string.encode()
        response = await self.raw(method, url, headers, body, follow_redirects=True)
        try:
            payload = await read_bounded(response, _MAX_TOKEN_BODY, "token response")
            if response.status >= 300:
                raise failure(response, payload)
        finally:
            response.release()
        return _parse_token(payload)


def _with_auth(headers: dict[str, str], authorization: str | None) -> dict[str, str]:
    if authorization is None:
        return headers
    return {**headers, "Authorization": authorization}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout waiting for the registry"
    return str(exc) or type(exc).__name__


async def read_bounded(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The whole body, refused with InvalidParameter once it grows past ``limit`` bytes."""
    length = response.content_length
    if length is not None and length > limit:
        raise InvalidParameter(f"{what} too large: {length} bytes exceeds the limit of {limit}")
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise InvalidParameter(f"{what} too large: exceeds the limit of {limit} bytes")
            parts.append(chunk)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise RegistryUnreachable(f"reading {what} from the registry: {_describe(exc)}") from exc
    return b"".join(parts)


async def read_error(response: aiohttp.ClientResponse) -> EngineError:
    """The engine error for a failed response (reads a bounded part of its body)."""
    body = b""
    if response.method != "HEAD":
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            body = await response.content.read(_MAX_ERROR_BODY)
    return failure(response, body)


def failure(response: aiohttp.ClientResponse, body: bytes) -> EngineError:
    challenges = parse_www_authenticate(response.headers.getall("WWW-Authenticate", []))
    errors = parse_errors(response.status, response.headers, body, challenges)
    return engine_error(response.status, errors)
