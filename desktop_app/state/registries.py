"""The registries the user is logged into, according to the docker config: plaintext ``auths``
entries, ``credHelpers`` and the ``credsStore``, each with its username and where its secret
lives. Secrets are never read: helpers are asked to ``list`` (server → username), never ``get``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from doca.credhelper.dockerconfig import (
    TOKEN_USERNAME,
    ConfigError,
    DockerConfig,
    entry_credentials,
    helper_for,
    load_config,
    server_address,
)
from doca.credhelper.helpers import HELPER_PREFIX, HelperError, helper_list
from doca.credhelper.protocol import same_registry

PLAINTEXT = "plaintext in config.json"


@dataclass(frozen=True)
class RegistryLogin:
    registry: str  # as the config or the helper spells it
    username: str  # "(identity token)" when the secret is a token
    store: str  # PLAINTEXT, or the helper's program, e.g. "docker-credential-pass"
    used: bool  # whether the docker CLI would send these credentials to the registry

    @property
    def key(self) -> str:
        return f"{self.registry}\n{self.store}"


@dataclass(frozen=True)
class RegistryLogins:
    config_path: Path
    logins: list[RegistryLogin] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # helpers that could not list


def _username(name: str) -> str:
    return "(identity token)" if name == TOKEN_USERNAME else name


def _used(config: DockerConfig, registry: str, helper: str) -> bool:
    return helper_for(config, server_address(registry)) == helper


def collect_logins(directory: Path | None = None) -> RegistryLogins:
    """Read the docker config and ask its helpers what they hold.

    Blocking (helpers are subprocesses): call it through ``asyncio.to_thread``. Raises
    ``ConfigError`` for an unusable config.json; a failing helper becomes a ``problems`` line.
    """
    config = load_config(directory)
    logins: list[RegistryLogin] = []
    problems: list[str] = []
    for url, entry in config.auths.items():
        try:
            found = entry_credentials(entry or {}, f"{config.path}: auths[{url!r}]")
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        if found is not None:  # `{}` entries are placeholders for logins kept by a store
            logins.append(
                RegistryLogin(url, _username(found[0]), PLAINTEXT, _used(config, url, ""))
            )

    listed: dict[str, dict[str, str]] = {}

    def listing(helper: str) -> dict[str, str]:
        if helper not in listed:
            try:
                listed[helper] = helper_list(helper)
            except HelperError as exc:
                listed[helper] = {}
                problems.append(str(exc))
        return listed[helper]

    for registry, helper in config.cred_helpers.items():
        users = listing(helper)
        match = next((url for url in users if _same(url, registry)), None)
        if match is not None:
            logins.append(
                RegistryLogin(registry, _username(users[match]), HELPER_PREFIX + helper, True)
            )
    if config.creds_store:
        helper = config.creds_store
        for url, user in listing(helper).items():
            if any(
                _same(url, login.registry) and login.store == HELPER_PREFIX + helper
                for login in logins
            ):
                continue  # a credHelpers entry already named this login of the same helper
            used = _used(config, url, helper)
            logins.append(RegistryLogin(url, _username(user), HELPER_PREFIX + helper, used))
    logins.sort(key=lambda login: (login.registry, login.store))
    return RegistryLogins(config.path, logins, problems)


def _same(a: str, b: str) -> bool:
    return a == b or same_registry(a, b)
