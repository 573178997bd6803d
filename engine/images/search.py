"""``GET /images/search``: Docker Hub's search for a plain term, and for a term that names another
registry (``127.0.0.1:5000/busy``) that registry's catalog, filtered by the rest of the term —
private registries have no search API, but most list their repositories."""

from __future__ import annotations

from typing import Any

import aiohttp
from yarl import URL

from engine.config import EngineConfig
from engine.errors import EngineError, InvalidParameter, SystemError_
from engine.filters import Filters
from engine.images.registry_access import USER_AGENT, find_candidates, with_fallback
from engine.registry.auth import Credentials

HUB_SEARCH = URL("https://index.docker.io/v1/search")
FILTERS = ("is-automated", "is-official", "stars")
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
HUB_TIMEOUT = 15.0


def split_term(term: str) -> tuple[str | None, str]:
    """``(registry, query)``: the registry is named as in an image reference, by a first
    component with a dot or a port, or ``localhost``; None means Docker Hub."""
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        if first in ("docker.io", "index.docker.io", "registry-1.docker.io"):
            return None, rest
        return first, rest
    return None, term


def check_limit(limit: int | None) -> int:
    if limit is None or limit == 0:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameter(f"limit {limit} is outside the range of [1, {MAX_LIMIT}]")
    return limit


def _matches(result: dict[str, Any], filters: Filters) -> bool:
    for key, field in (("is-official", "is_official"), ("is-automated", "is_automated")):
        wanted = filters.bool_value(key)
        if wanted is not None and bool(result.get(field)) != wanted:
            return False
    for stars in filters.get("stars"):
        if not stars.isdigit():
            raise InvalidParameter(f"invalid filter 'stars={stars}'")
        if int(result.get("star_count") or 0) < int(stars):
            return False
    return True


async def search_images(
    term: str, limit: int | None, filters: Filters, credentials: Credentials, config: EngineConfig
) -> list[dict[str, Any]]:
    filters.validate(FILTERS)
    if not term:
        raise InvalidParameter("term is required")
    count = check_limit(limit)
    registry, query = split_term(term)
    if registry is None:
        found = await _search_hub(query, count)
    else:
        found = await _search_catalog(registry, query, credentials, config)
    return [r for r in found if _matches(r, filters)][:count]


async def _search_catalog(
    registry: str, query: str, credentials: Credentials, config: EngineConfig
) -> list[dict[str, Any]]:
    endpoints = await find_candidates(registry, config, pull=True)
    client, names = await with_fallback(endpoints, credentials, lambda c: c.catalog())
    await client.close()
    needle = query.lower()
    return [
        {
            "name": f"{registry}/{name}",
            "description": "",
            "star_count": 0,
            "is_official": False,
            "is_automated": False,
        }
        for name in sorted(names)
        if needle in name.lower()
    ]


async def _search_hub(query: str, count: int) -> list[dict[str, Any]]:
    url = HUB_SEARCH.with_query(q=query, n=str(count))
    timeout = aiohttp.ClientTimeout(total=HUB_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": USER_AGENT}) as http,
            http.get(url) as response,
        ):
            if response.status != 200:
                raise SystemError_(
                    f'Get "{url}": unexpected status {response.status} from Docker Hub search'
                )
            body = await response.json(content_type=None)
    except EngineError:
        raise
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        raise SystemError_(f'Get "{url}": {reason}') from None
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise SystemError_(f'Get "{url}": Docker Hub answered something other than results')
    return [r for r in results if isinstance(r, dict)]
