"""The docker CLI's `config.json`: which credentials it would use for a registry, and how to
rewrite the file safely.

Lookup follows docker/cli (`cli/config/config.go`, `configfile/file.go`, `credentials/*.go`):

- the config dir is `$DOCKER_CONFIG`, else `~/.docker`;
- a registry is keyed as `https://index.docker.io/v1/` for Docker Hub, else as bare `host[:port]`;
- `DOCKER_AUTH_CONFIG` (a config.json-shaped JSON value) answers first for an exact key;
- then ONE store is chosen: `credHelpers[<key>]`, else `credsStore`, else (only when the file
  configures no auth at all) the platform default helper if installed, else plaintext `auths`.
  A helper that has nothing is final: the CLI never falls back to plaintext after it;
- plaintext `auths` match the key exactly, or an entry whose URL reduces to the same host
  (`https://host/`); `auth` (base64 `user:password`) wins over `username` / `password`;
- helpers answer `{"Username", "Secret"}`, where Username `<token>` means an identity token.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doca.credhelper.helpers import (
    HELPER_PREFIX,
    HELPER_TIMEOUT,
    helper_get,
    helper_list,
)
from doca.credhelper.protocol import HUB_HOSTS, HUB_URL

CONFIG_NAME = "config.json"
TOKEN_USERNAME = "<token>"
# Real configs are a few KiB; a file this big is a mistake or an attack, not a config.
MAX_CONFIG_BYTES = 4 * 1024 * 1024
SECRET_KEYS = ("auth", "username", "password", "identitytoken", "registrytoken")
AUTH_FIELDS = (*SECRET_KEYS, "email", "serveraddress")


class ConfigError(Exception):
    """config.json (or DOCKER_AUTH_CONFIG) cannot be used; the message names the file."""


def config_dir(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    env = os.environ.get("DOCKER_CONFIG")
    return Path(env) if env else Path.home() / ".docker"


@dataclass(frozen=True)
class DockerConfig:
    path: Path
    data: dict[str, Any]  # the whole file, keys in file order
    exists: bool

    @property
    def creds_store(self) -> str:
        return str(self.data.get("credsStore") or "")

    @property
    def cred_helpers(self) -> dict[str, str]:
        return dict(self.data.get("credHelpers") or {})

    @property
    def auths(self) -> dict[str, dict[str, Any]]:
        return dict(self.data.get("auths") or {})

    def contains_auth(self) -> bool:
        return bool(self.creds_store or self.cred_helpers or self.auths)


def _check_types(data: object, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object")
    if not isinstance(data.get("credsStore", ""), str | None):
        raise ConfigError(f"{where}: credsStore must be a string")
    helpers = data.get("credHelpers")
    if not isinstance(helpers, dict | None) or not all(
        isinstance(v, str) for v in (helpers or {}).values()
    ):
        raise ConfigError(f"{where}: credHelpers must map registries to helper names")
    auths = data.get("auths")
    if not isinstance(auths, dict | None):
        raise ConfigError(f"{where}: auths must be an object")
    for url, entry in (auths or {}).items():
        # Go decodes the known fields as strings and ignores the rest.
        if not isinstance(entry, dict | None) or not all(
            isinstance((entry or {}).get(key), str | None) for key in AUTH_FIELDS
        ):
            raise ConfigError(f"{where}: auths[{url!r}] must be an object of strings")
    return data


def load_config(directory: Path | None = None) -> DockerConfig:
    """Read `<dir>/config.json`; a missing file is an empty config."""
    path = config_dir(directory) / CONFIG_NAME
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return DockerConfig(path, {}, exists=False)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes, not a docker config")
    if not raw.strip():
        return DockerConfig(path, {}, exists=True)  # the CLI accepts an empty file
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    return DockerConfig(path, _check_types(data, str(path)), exists=True)


def _hostname(url: str) -> str:
    """credentials.ConvertToHostname: `https://host:port/path` → `host:port`."""
    if "://" in url:
        with contextlib.suppress(ValueError):
            parts = urllib.parse.urlsplit(url)
            if parts.hostname:
                host = parts.hostname
                if ":" in host:
                    host = f"[{host}]"
                return host if parts.port is None else f"{host}:{parts.port}"
    return url.partition("/")[0]


def server_address(registry: str) -> str:
    """The key the docker CLI looks credentials up by: Hub's URL, else bare `host[:port]`."""
    host = _hostname(registry.strip())
    bare = host.rpartition(":")[0] if host.count(":") == 1 else host
    if not host or bare.lower() in HUB_HOSTS:
        return HUB_URL
    return host


def decode_auth(value: str, where: str) -> tuple[str, str]:
    """configfile.decodeAuth: base64 `user:password` (user not empty, NULs trimmed)."""
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}: auth is not base64 of user:password") from None
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise ConfigError(f"{where}: auth is not base64 of user:password")
    return user, password.strip("\x00")


def entry_credentials(entry: Mapping[str, Any], where: str) -> tuple[str, str] | None:
    """The (username, secret) of one plaintext auths entry; `<token>` for an identity token."""
    if entry.get("identitytoken"):
        return TOKEN_USERNAME, str(entry["identitytoken"])
    if entry.get("auth"):
        return decode_auth(str(entry["auth"]), where)
    username, password = str(entry.get("username") or ""), str(entry.get("password") or "")
    return (username, password) if username or password else None


def find_auth_entry(auths: Mapping[str, Any], address: str) -> str | None:
    """The auths key the file store uses for `address`: exact, else same host."""
    if address in auths:
        return address
    return next((url for url in auths if _hostname(url) == address), None)


def detect_default_store(path_env: str | None = None) -> str:
    """credentials.DetectDefaultStore on Linux: `pass` if installed, else `secretservice`,
    and only when its helper binary is on PATH."""
    name = "pass" if shutil.which("pass", path=path_env) else "secretservice"
    return name if shutil.which(HELPER_PREFIX + name, path=path_env) else ""


def helper_for(config: DockerConfig, address: str) -> str:
    """The helper name the CLI would ask for `address`, or "" for plaintext auths."""
    helper = config.cred_helpers.get(address)
    if helper is not None:
        return helper
    if config.creds_store or config.contains_auth():
        return config.creds_store
    return detect_default_store()


def _env_auths(value: str) -> dict[str, Any]:
    """DOCKER_AUTH_CONFIG's auths; the CLI ignores a value it cannot parse."""
    try:
        data = _check_types(json.loads(value), "DOCKER_AUTH_CONFIG")
    except (json.JSONDecodeError, ConfigError):
        return {}
    return dict(data.get("auths") or {})


def credentials_for(
    registry: str, directory: Path | None = None, *, timeout: float = HELPER_TIMEOUT
) -> tuple[str, str] | None:
    """(username, secret) the docker CLI would send to `registry`, or None.

    Username `<token>` means the secret is an identity token. Raises ConfigError for an
    unusable config.json and HelperError when the chosen helper fails.
    """
    address = server_address(registry)
    env_value = os.environ.get("DOCKER_AUTH_CONFIG")
    if env_value:
        entry = _env_auths(env_value).get(address)
        if entry is not None:
            return entry_credentials(entry or {}, "DOCKER_AUTH_CONFIG")
    config = load_config(directory)
    helper = helper_for(config, address)
    if helper:
        found = helper_get(helper, address, timeout)
        return found if found and (found[0] or found[1]) else None
    key = find_auth_entry(config.auths, address)
    if key is None:
        return None
    return entry_credentials(config.auths[key] or {}, f"{config.path}: auths[{key!r}]")


def encode_auth_header(username: str, secret: str, address: str) -> str:
    """The Engine API's `X-Registry-Auth` value: base64url JSON as the docker CLI sends it."""
    if username == TOKEN_USERNAME:
        body: dict[str, str] = {"serveraddress": address, "identitytoken": secret}
    else:
        body = {"username": username, "password": secret, "serveraddress": address}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def auth_header_value(
    registry: str, directory: Path | None = None, *, timeout: float = HELPER_TIMEOUT
) -> str | None:
    """`X-Registry-Auth` for pulling from / pushing to `registry`; None without credentials."""
    found = credentials_for(registry, directory, timeout=timeout)
    if found is None:
        return None
    return encode_auth_header(found[0], found[1], server_address(registry))


def auth_config(username: str, secret: str, address: str) -> dict[str, str]:
    """An Engine API AuthConfig for credentials found for ``address``."""
    if username == TOKEN_USERNAME:
        return {"identitytoken": secret, "serveraddress": address}
    return {"username": username, "password": secret, "serveraddress": address}


def all_auth_configs(
    directory: Path | None = None, *, timeout: float = HELPER_TIMEOUT
) -> dict[str, dict[str, str]]:
    """Every registry's AuthConfig, gathered as GetAllCredentials does for a build's
    ``X-Registry-Config``: what the credentials store lists (or the plaintext auths), then the
    registries of ``credHelpers``. Raises ConfigError or HelperError as ``credentials_for``."""
    config = load_config(directory)
    store = config.creds_store or ("" if config.contains_auth() else detect_default_store())
    registries = list(helper_list(store, timeout)) if store else list(config.auths)
    registries += [name for name in config.cred_helpers if name not in registries]
    found: dict[str, dict[str, str]] = {}
    for registry in registries:
        credentials = credentials_for(registry, directory, timeout=timeout)
        # A registry listed without credentials is still sent, with its address alone.
        found[registry] = auth_config(*credentials, registry) if credentials is not None \
            else {"serveraddress": registry}  # fmt: skip
    return found


def _write_private(directory: Path, prefix: str, payload: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def backup_config(config: DockerConfig) -> Path | None:
    """Copy config.json to `config.json.bak-<timestamp>` (mode 0600); None if there is none."""
    if not config.exists:
        return None
    target = config.path.resolve()
    payload = target.read_bytes()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for n in range(100):
        backup = target.with_name(f"{target.name}.bak-{stamp}" + (f"-{n}" if n else ""))
        tmp = _write_private(target.parent, ".config.json.bak.", payload)
        try:
            os.link(tmp, backup)  # fails if taken: never overwrite an older backup
        except FileExistsError:
            continue
        finally:
            os.unlink(tmp)
        return backup
    raise ConfigError(f"cannot choose a free backup name next to {target}")


def save_config(config: DockerConfig, data: Mapping[str, Any]) -> None:
    """Replace config.json atomically (through a symlink, as the CLI does), keeping its mode."""
    target = config.path.resolve() if config.exists else config.path
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    payload = (json.dumps(data, indent="\t", ensure_ascii=False) + "\n").encode("utf-8")
    tmp = _write_private(target.parent, ".config.json.", payload)
    try:
        mode = target.stat().st_mode & 0o777 if config.exists else 0o600
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
