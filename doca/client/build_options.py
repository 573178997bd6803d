"""``ImageBuildOptions``: what a classic build asks of the engine, and the ``POST /build`` query
the docker CLI makes of it (the moby client's imageBuildOptionsToQuery)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

# The builder API version of the classic builder; BuildKit's is "2".
BUILDER_V1 = "1"


def _json(value: Any) -> str:
    # Go's json.Marshal sorts map keys.
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


@dataclass
class BuildOptions:
    tags: list[str] = field(default_factory=list)
    dockerfile: str = ""  # the Dockerfile's path inside the context; "" is "Dockerfile"
    build_args: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    remove: bool = True
    force_remove: bool = False
    quiet: bool = False
    network_mode: str = ""
    platform: str = ""
    extra_hosts: list[str] = field(default_factory=list)  # "host:ip"
    shm_size: int = 0
    memory: int = 0
    cache_from: list[str] = field(default_factory=list)

    def query(self) -> dict[str, str | list[str]]:
        """The query parameters, each sent only when it differs from the engine's default."""
        query: dict[str, str | list[str]] = {}
        if self.tags:
            query["t"] = list(self.tags)
        if self.extra_hosts:
            query["extrahosts"] = list(self.extra_hosts)
        flags = (("q", self.quiet), ("nocache", self.no_cache), ("forcerm", self.force_remove),
                 ("pull", self.pull))  # fmt: skip
        query.update({name: "1" for name, on in flags if on})
        if not self.remove:
            query["rm"] = "0"
        if self.network_mode not in ("", "default"):
            query["networkmode"] = self.network_mode
        for name, number in (("memory", self.memory), ("shmsize", self.shm_size)):
            if number:
                query[name] = str(number)
        for name, text in (("dockerfile", self.dockerfile), ("target", self.target)):
            if text:
                query[name] = text
        for name, value in (("buildargs", self.build_args), ("labels", self.labels),
                            ("cachefrom", self.cache_from)):  # fmt: skip
            if value:
                query[name] = _json(value)
        if self.platform:
            query["platform"] = self.platform.lower()
        query["version"] = BUILDER_V1
        return query


def registry_config_header(auth_configs: Mapping[str, Mapping[str, str]]) -> str:
    """``X-Registry-Config``: base64url JSON of registry → auth config (``e30=`` for none)."""
    return base64.urlsafe_b64encode(_json(dict(auth_configs)).encode()).decode("ascii")
