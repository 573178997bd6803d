"""Credential commands: credentials doctor, migrate, use.

They look after the docker CLI's config.json so registry logins live in the OS keychain through
`docker-credential-doca`, never in plaintext. The keychain is reached through the helper's own
CredentialStore, so what `migrate` writes is exactly what the helper reads back.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import click

from doca.credhelper import dockerconfig as dc
from doca.credhelper.doctor import EXE, HELPER, diagnose, helper_problem, plaintext_registries
from doca.credhelper.protocol import ProtocolError, registry_key

if TYPE_CHECKING:
    from doca.credhelper.store import CredentialStore

MIGRATED_KEYS = ("auth", "username", "password", "identitytoken")


@dataclass(frozen=True)
class Login:
    url: str
    username: str
    secret: str


def plaintext_logins(config: dc.DockerConfig) -> list[Login]:
    """The plaintext logins to move; ConfigError for one the helper protocol cannot hold."""
    logins = []
    for url in plaintext_registries(config):
        entry = config.auths[url] or {}
        where = f"{config.path}: auths[{url!r}]"
        if entry.get("registrytoken") and not entry.get("identitytoken"):
            raise dc.ConfigError(f"{where}: a registrytoken cannot be kept by a credential helper")
        found = dc.entry_credentials(entry, where)
        if found is None or not found[0] or not found[1]:
            raise dc.ConfigError(f"{where}: needs both a username and a password")
        try:
            registry_key(url)
        except ProtocolError as exc:
            raise dc.ConfigError(f"{where}: {exc}") from None
        logins.append(Login(url, *found))
    return logins


def without_secrets(data: dict[str, Any], urls: list[str]) -> dict[str, Any]:
    """A copy of `data` with the secrets of `urls` gone; each entry stays, as `{}` when nothing
    else was in it, as the docker CLI leaves it when a creds store holds the login."""
    new = copy.deepcopy(data)
    for url in urls:
        entry = new["auths"][url] or {}
        new["auths"][url] = {k: v for k, v in entry.items() if k not in MIGRATED_KEYS}
    return new


def with_creds_store(data: dict[str, Any], name: str | None) -> dict[str, Any]:
    """A copy of `data` with credsStore set (in place if present, else last) or removed."""
    new = copy.deepcopy(data)
    if name is None:
        new.pop("credsStore", None)
    else:
        new.setdefault("auths", {})
        new["credsStore"] = name
    return new


def _die(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _load() -> dc.DockerConfig:
    try:
        return dc.load_config()
    except dc.ConfigError as exc:
        _die(f"Error: {exc}")


@click.group()
def credentials() -> None:
    """Keep docker registry logins in the OS keychain."""


@credentials.command("doctor")
def doctor() -> None:
    """Check where docker keeps registry logins; exit 1 if something needs attention."""
    found = diagnose()
    for label, value in found.facts:
        click.echo(f"{label + ':':<14}{value}")
    if found.config_error:
        _die(f"! {found.config_error}")
    for finding in found.findings:
        click.echo(f"! {finding}")
    if found.findings:
        sys.exit(1)
    click.echo("OK: no registry secret is kept in plaintext.")


def _consent(yes: bool, question: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        _die("Refusing to change config.json without consent: pass --yes (non-interactive).")
    if not click.confirm(question, default=False):
        _die("Nothing changed.")


def _restore(store: CredentialStore, done: list[tuple[Login, tuple[str, str] | None]]) -> None:
    """Undo the keychain writes of a failed migration (best effort, newest first)."""
    from doca.credhelper.protocol import Credentials
    from doca.credhelper.store import StoreError

    for login, previous in reversed(done):
        try:
            if previous is None:
                store.erase(login.url)
            else:
                store.store(Credentials(login.url, *previous))
        except (StoreError, OSError) as exc:
            click.echo(f"warning: could not undo the keychain entry for {login.url}: {exc}")


def _move_to_keychain(config: dc.DockerConfig, logins: list[Login], new: dict[str, Any]) -> None:
    """Store every login, then rewrite config.json; on any failure undo and exit 1."""
    from doca.credhelper.index import CorruptIndex
    from doca.credhelper.protocol import Credentials
    from doca.credhelper.store import CredentialStore, NotFound, StoreError

    store = CredentialStore()
    done: list[tuple[Login, tuple[str, str] | None]] = []
    backup = None
    try:
        store.backend  # noqa: B018 - refuse an insecure keychain before any change
        backup = dc.backup_config(config)
        for login in logins:
            try:
                previous: tuple[str, str] | None = store.get(login.url)
            except NotFound:
                previous = None
            store.store(Credentials(login.url, login.username, login.secret))
            done.append((login, previous))
        dc.save_config(config, new)
    except (StoreError, CorruptIndex, dc.ConfigError, OSError) as exc:
        _restore(store, done)
        _die(f"Error: {exc}\n{config.path} was not changed.")
    if backup is not None:
        click.echo(f"Backup:   {backup} (it still holds the secrets: delete it when done)")


@credentials.command("migrate")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--use", "use_doca", is_flag=True, help=f"Also set credsStore to {HELPER}.")
def migrate(yes: bool, use_doca: bool) -> None:
    """Move plaintext logins from config.json into the OS keychain."""
    config = _load()
    try:
        logins = plaintext_logins(config)
    except dc.ConfigError as exc:
        _die(f"Error: {exc}; nothing was changed.")
    if not logins and (not use_doca or config.creds_store == HELPER):
        click.echo(f"No plaintext logins in {config.path}.")
        return
    if use_doca and (problem := helper_problem(HELPER)):
        _die(f"Error: {problem}; nothing was changed.")
    for login in logins:
        click.echo(f"  {login.url} ({login.username})")
    _consent(yes, f"Move {len(logins)} login(s) from {config.path} into the keychain?")
    new = without_secrets(config.data, [login.url for login in logins])
    if use_doca:
        new = with_creds_store(new, HELPER)
    _move_to_keychain(config, logins, new)
    click.echo(f"Moved {len(logins)} login(s) into the keychain.")
    if new.get("credsStore") != HELPER:
        click.echo(f"Note: docker reads them only with credsStore {HELPER}: doca credentials use")


@credentials.command("use")
@click.option("--off", is_flag=True, help=f"Stop using {EXE} as docker's credsStore.")
def use(off: bool) -> None:
    """Make docker keep its logins in the OS keychain (credsStore: doca)."""
    config = _load()
    if off:
        if config.creds_store != HELPER:
            click.echo(f"credsStore is {config.creds_store or 'not set'}; nothing to change.")
            return
        new = with_creds_store(config.data, None)
    else:
        if config.creds_store == HELPER:
            click.echo(f"credsStore is already {HELPER} in {config.path}.")
            return
        if problem := helper_problem(HELPER):
            _die(f"Error: {problem}; nothing was changed.")
        new = with_creds_store(config.data, HELPER)
    try:
        backup = dc.backup_config(config)
        dc.save_config(config, new)
    except (dc.ConfigError, OSError) as exc:
        _die(f"Error: {exc}\n{config.path} was not changed.")
    if backup is not None:
        click.echo(f"Backup:   {backup}")
    if off:
        click.echo(f"Removed credsStore from {config.path}; logins in the keychain are unused.")
        return
    click.echo(f"credsStore set to {HELPER} in {config.path}.")
    for url in plaintext_registries(config):
        if dc.server_address(url) not in config.cred_helpers:
            click.echo(f"! {url}: plaintext login now unused; run `doca credentials migrate`")


COMMANDS = (credentials,)
