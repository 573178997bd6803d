"""Distribution v2 / OCI registry client: manifests, blobs, uploads, tags and the catalog.

One client talks to one endpoint with one set of credentials. Errors come out as engine
errors worded as dockerd words them; a blob download retries (resuming where it stopped)
after 5xx answers and broken connections.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, AsyncIterator
from http import HTTPStatus
from types import TracebackType

import aiohttp
import orjson
from yarl import URL

from engine.errors import EngineError, InvalidParameter, SystemError_, Unauthorized
from engine.registry import mediatypes
from engine.registry.auth import Credentials
from engine.registry.challenges import parse_www_authenticate
from engine.registry.digests import DigestVerifier, is_digest, sha256_digest, validate_digest
from engine.registry.endpoints import RegistryEndpoint
from engine.registry.errcodes import parse_errors, pull_error
from engine.registry.manifests import MAX_MANIFEST_SIZE, Descriptor, parse_manifest
from engine.registry.names import (
    CATALOG_SCOPE,
    check_reference,
    check_repository,
    pull_scope,
    push_scope,
)
from engine.registry.transport import (
    RegistryUnreachable,
    Transport,
    failure,
    go_method,
    read_bounded,
    read_error,
)
from engine.registry.uploads import BlobUpload, blocks, check_complete, counted, upload_location

_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_MAX_PAGE = 4 * 1024 * 1024
_MAX_PAGES = 10_000
CHUNK_SIZE = 5 * 1024 * 1024
MONOLITHIC_LIMIT = 1024 * 1024


class RegistryClient:
    """Async client of one registry endpoint. Use ``async with`` or call ``close()``."""

    def __init__(
        self,
        endpoint: RegistryEndpoint,
        credentials: Credentials | None = None,
        session: aiohttp.ClientSession | None = None,
        user_agent: str = "doca",
        *,
        connect_timeout: float = 30.0,
        read_timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        chunk_size: int = CHUNK_SIZE,
        monolithic_limit: int = MONOLITHIC_LIMIT,
    ) -> None:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self.endpoint = endpoint
        self._http = Transport(endpoint, credentials or Credentials(), session, user_agent, timeout)
        self.retries = retries
        self.backoff = backoff
        self.chunk_size = chunk_size
        self.monolithic_limit = monolithic_limit

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session if this client created it."""
        await self._http.close()

    def _url(self, path: str) -> URL:
        return self._http.url(path)

    def familiar_name(self, repo: str) -> str:
        """``library/x`` on Docker Hub is ``x``; elsewhere the registry's name is kept."""
        if self.endpoint.is_docker_hub:
            return repo.removeprefix("library/")
        return f"{self.endpoint.name}/{repo}"

    # -- login -----------------------------------------------------------------------------

    async def ping(self) -> str:
        """``GET /v2/`` with the credentials, as ``docker login`` validates them.

        Returns the identity (refresh) token a token server handed out, or "".
        """
        url = self._url("/v2/")
        try:
            async with self._http.request("GET", url, ()) as response:
                if response.status == 200:
                    return self._http.auth.refresh_token
                message = f"login attempt to {url} failed with status: {_status_text(response)}"
                if response.status == 401:
                    raise Unauthorized(message)
                raise SystemError_(message)
        except Unauthorized as exc:
            if exc.message.startswith("login attempt"):
                raise
            # The token server refused the credentials; dockerd shows it as Go's url.Error.
            raise Unauthorized(f'{go_method("GET")} "{url}": {exc.message}') from exc

    # -- manifests -------------------------------------------------------------------------

    async def get_manifest(self, repo: str, ref: str) -> tuple[str, str, bytes]:
        """(media type, digest, raw bytes) of a manifest or index, validated and verified."""
        check_repository(repo)
        check_reference(ref)
        url = self._url(f"/v2/{repo}/manifests/{ref}")
        headers = {"Accept": mediatypes.PULL_ACCEPT}
        async with self._http.request("GET", url, [pull_scope(repo)], headers) as response:
            if response.status != 200:
                raise await self._pull_error(response, repo, ref)
            raw = await read_bounded(response, MAX_MANIFEST_SIZE, "manifest")
            content_type = response.headers.get("Content-Type", "")
            advertised = response.headers.get("Docker-Content-Digest", "")
        digest = sha256_digest(raw)
        expected = ref if is_digest(ref) else advertised
        if expected.startswith("sha256:") and expected != digest:
            raise InvalidParameter(
                f"digest mismatch for manifest {self.familiar_name(repo)}@{expected}: "
                f"content hashes to {digest}"
            )
        parsed = parse_manifest(raw, content_type, self._familiar_ref(repo, ref))
        return parsed.media_type, digest, raw

    async def head_manifest(self, repo: str, ref: str) -> Descriptor | None:
        """The manifest's descriptor without its body; None when the registry does not know it."""
        check_repository(repo)
        check_reference(ref)
        url = self._url(f"/v2/{repo}/manifests/{ref}")
        headers = {"Accept": mediatypes.PULL_ACCEPT}
        async with self._http.request("HEAD", url, [pull_scope(repo)], headers) as response:
            if response.status == 404:
                return None
            if response.status != 200:
                raise await self._pull_error(response, repo, ref)
            digest = response.headers.get("Docker-Content-Digest", "")
            if not digest and is_digest(ref):
                digest = ref
            return Descriptor(
                media_type=mediatypes.base(response.headers.get("Content-Type", "")),
                digest=validate_digest(digest),
                size=response.content_length or 0,
            )

    async def put_manifest(self, repo: str, ref: str, media_type: str, raw: bytes) -> str:
        """Upload a manifest under a tag or digest; returns its digest."""
        check_repository(repo)
        check_reference(ref)
        parse_manifest(raw, media_type)  # never push what a pull would refuse
        digest = sha256_digest(raw)
        if is_digest(ref) and ref != digest:
            raise InvalidParameter(f"digest mismatch: manifest hashes to {digest}, not {ref}")
        url = self._url(f"/v2/{repo}/manifests/{ref}")
        headers = {"Content-Type": media_type}
        async with self._http.request("PUT", url, [push_scope(repo)], headers, raw) as response:
            if response.status not in (200, 201):
                raise await read_error(response)
            returned = response.headers.get("Docker-Content-Digest", "")
        if returned.startswith("sha256:") and returned != digest:
            raise SystemError_(f"registry stored manifest as {returned}, expected {digest}")
        return digest

    # -- blobs -----------------------------------------------------------------------------

    async def blob_exists(self, repo: str, digest: str) -> int | None:
        """The blob's size if the repository has it, else None."""
        check_repository(repo)
        validate_digest(digest)
        url = self._url(f"/v2/{repo}/blobs/{digest}")
        async with self._http.request(
            "HEAD", url, [pull_scope(repo)], follow_redirects=True
        ) as response:
            if response.status == 404:
                return None
            if response.status != 200:
                raise await read_error(response)
            return response.content_length or 0

    async def fetch_blob(
        self, repo: str, digest: str, offset: int = 0
    ) -> AsyncGenerator[bytes, None]:
        """The blob's bytes from ``offset`` on, resumed with Range after breaks and 5xx.

        The caller verifies the digest (see ``engine.registry.download``) and must close the
        iterator (``contextlib.aclosing``) if it stops early.
        """
        check_repository(repo)
        validate_digest(digest)
        url = self._url(f"/v2/{repo}/blobs/{digest}")
        received = offset
        failures = 0
        while True:
            headers = {"Range": f"bytes={received}-"} if received else {}
            progress = received
            try:
                async with self._http.request(
                    "GET", url, [pull_scope(repo)], headers, follow_redirects=True
                ) as response:
                    if response.status == 416 and received:
                        return  # nothing left past the offset
                    if response.status in _RETRY_STATUSES:
                        raise _Retry(f"registry answered {response.status}")
                    if response.status not in (200, 206):
                        raise await read_error(response)
                    skip = _skip_for(response, received)
                    async for chunk in response.content.iter_chunked(64 * 1024):
                        if skip:
                            dropped = min(skip, len(chunk))
                            skip -= dropped
                            chunk = chunk[dropped:]
                            if not chunk:
                                continue
                        received += len(chunk)
                        yield chunk
                    return
            except (_Retry, RegistryUnreachable, aiohttp.ClientError, TimeoutError) as exc:
                failures = 0 if received > progress else failures + 1
                if failures > self.retries:
                    raise RegistryUnreachable(
                        f"fetching blob {digest} from {self.familiar_name(repo)} failed "
                        f"after {received} bytes: {exc}"
                    ) from exc
                await asyncio.sleep(self.backoff * 2 ** max(failures - 1, 0))

    async def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Cross-repository mount; False when the registry wants the blob uploaded instead."""
        check_repository(repo)
        check_repository(from_repo)
        validate_digest(digest)
        query = {"mount": digest, "from": from_repo}
        url = self._url(f"/v2/{repo}/blobs/uploads/").with_query(query)
        async with self._http.request(
            "POST", url, [push_scope(repo), pull_scope(from_repo)]
        ) as response:
            if response.status == 201:
                return True
            if response.status != 202:
                raise await read_error(response)
            location = upload_location(response, url, self._url("/"))
        # The registry opened an upload session instead; cancel it so it does not linger.
        await BlobUpload(self._http, repo, location).cancel()
        return False

    async def upload_blob(
        self, repo: str, digest: str, size: int, chunks: AsyncIterator[bytes]
    ) -> None:
        """Upload a blob: one PUT when small, else PATCH per chunk then PUT ``?digest=``.

        The bytes are hashed on the way; a wrong digest or size cancels the upload.
        """
        check_repository(repo)
        validate_digest(digest)
        start = self._url(f"/v2/{repo}/blobs/uploads/")
        async with self._http.request("POST", start, [push_scope(repo)]) as response:
            if response.status != 202:
                raise await read_error(response)
            upload = BlobUpload(self._http, repo, upload_location(response, start, self._url("/")))
        verifier = DigestVerifier(digest)
        try:
            if size <= self.monolithic_limit:
                body = b"".join([chunk async for chunk in counted(chunks, verifier, size)])
                check_complete(verifier, size)
                await upload.commit(digest, body)
                return
            async for block in blocks(counted(chunks, verifier, size), self.chunk_size):
                await upload.patch(block)
            check_complete(verifier, size)
            await upload.commit(digest)
        except Exception:
            await upload.cancel()
            raise

    # -- listings --------------------------------------------------------------------------

    async def list_tags(self, repo: str) -> list[str]:
        """Every tag of ``repo``, following ``Link`` pagination."""
        check_repository(repo)
        pages = self._pages(self._url(f"/v2/{repo}/tags/list"), [pull_scope(repo)], "tags")
        return [tag async for tag in pages]

    async def catalog(self) -> list[str]:
        """Every repository the registry lists, following ``Link`` pagination."""
        pages = self._pages(self._url("/v2/_catalog"), [CATALOG_SCOPE], "repositories")
        return [name async for name in pages]

    async def _pages(self, url: URL | None, scopes: list[str], key: str) -> AsyncIterator[str]:
        seen: set[URL] = set()
        while url is not None and url not in seen and len(seen) < _MAX_PAGES:
            seen.add(url)
            async with self._http.request("GET", url, scopes) as response:
                if response.status != 200:
                    raise await read_error(response)
                body = await read_bounded(response, _MAX_PAGE, f"{key} list")
                url = _next_link(response.headers.getall("Link", []), url)
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise SystemError_(f"registry sent an invalid {key} list: {exc}") from exc
            items = data.get(key) if isinstance(data, dict) else None
            for item in items if isinstance(items, list) else []:
                if isinstance(item, str):
                    yield item
            if url is not None and url.origin() != self._url("/").origin():
                raise SystemError_(f"registry pagination points to another host: {url.origin()}")

    # -- errors ----------------------------------------------------------------------------

    def _familiar_ref(self, repo: str, ref: str) -> str:
        separator = "@" if is_digest(ref) else ":"
        return f"{self.familiar_name(repo)}{separator}{ref}"

    async def _pull_error(
        self, response: aiohttp.ClientResponse, repo: str, ref: str
    ) -> EngineError:
        if response.method == "HEAD":
            return await read_error(response)
        body = await response.content.read(64 * 1024)
        challenges = parse_www_authenticate(response.headers.getall("WWW-Authenticate", []))
        errors = parse_errors(response.status, response.headers, body, challenges)
        translated = pull_error(errors, self._familiar_ref(repo, ref), self.familiar_name(repo))
        if translated is not None:
            return translated
        return failure(response, body)


def _status_text(response: aiohttp.ClientResponse) -> str:
    """``401 Unauthorized``: Go's StatusText, not whatever reason the server made up."""
    try:
        return f"{response.status} {HTTPStatus(response.status).phrase}"
    except ValueError:
        return str(response.status)


class _Retry(Exception):
    """A transient registry answer worth trying again."""


def _skip_for(response: aiohttp.ClientResponse, received: int) -> int:
    """Bytes to drop from this response: all of ``received`` if the Range was ignored."""
    if not received:
        return 0
    if response.status == 200:
        return received
    content_range = response.headers.get("Content-Range", "")
    match = re.fullmatch(r"bytes (\d+)-\d+/(?:\d+|\*)", content_range.strip())
    if match is None or int(match.group(1)) != received:
        raise InvalidParameter(f"registry resumed at the wrong place: {content_range[:100]!r}")
    return 0


def _next_link(links: list[str], current: URL) -> URL | None:
    for header in links:
        for part in header.split(","):
            match = re.match(r"\s*<([^>]*)>\s*;(.*)", part)
            if match and re.search(r'rel="?next"?', match.group(2)):
                return current.join(URL(match.group(1), encoded=True))
    return None
