"""Storing and erasing registry logins exactly where `docker login` and `docker logout` do:
through the registry's credential helper or the credsStore, else in plaintext ``auths``."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

from doca.credhelper import dockerconfig as dc
from doca.credhelper.helpers import HelperError, run_helper
from doca.credhelper.protocol import HUB_URL

HUB_DOMAIN = "docker.io"


def login_address(server: str | None) -> str:
    """The key a login is stored under: Docker Hub's URL, else the bare ``host[:port]``."""
    return dc.server_address(server) if server and server != HUB_DOMAIN else HUB_URL


def plaintext_entry(username: str, password: str, token: str) -> dict[str, str]:
    """The ``auths`` entry the docker CLI's file store writes."""
    entry = {}
    if username or password:
        raw = f"{username}:{password}".encode()
        entry["auth"] = base64.b64encode(raw).decode("ascii")
    if token:
        entry["identitytoken"] = token
    return entry


def store_login(
    address: str, username: str, password: str, token: str, directory: Path | None = None
) -> bool:
    """Keep a login where the docker CLI would: through the registry's credential helper or
    the credsStore, else in plaintext ``auths`` (of the config in ``directory``, by default
    the docker CLI's). True when it went into plaintext."""
    config = dc.load_config(directory)
    helper = dc.helper_for(config, address)
    data = copy.deepcopy(config.data)
    auths = data.setdefault("auths", {})
    if helper:
        secret = {"ServerURL": address, "Username": dc.TOKEN_USERNAME if token else username,
                  "Secret": token or password}  # fmt: skip
        run_helper(helper, "store", json.dumps(secret))
        auths[address] = {}  # the file keeps the registry, the helper its secret
    else:
        auths[address] = plaintext_entry(username, "" if token else password, token)
    dc.save_config(config, data)
    return not helper


def logout_keys(server: str | None) -> list[str]:
    """Every key `docker logout` erases: as given, and the older spellings of the host."""
    address = login_address(server)
    if address == HUB_URL:
        return [HUB_URL]
    keys = [server or address, address, f"http://{address}", f"https://{address}"]
    return list(dict.fromkeys(keys))


def erase_login(keys: list[str], directory: Path | None = None) -> dict[str, str]:
    """Forget a login under each of ``keys``; the failures, by key."""
    config = dc.load_config(directory)
    data = copy.deepcopy(config.data)
    auths = data.get("auths") or {}
    failed = {}
    for key in keys:
        helper = dc.helper_for(config, key)
        if helper:
            try:
                run_helper(helper, "erase", key)
            except HelperError as error:
                failed[key] = str(error)
                continue
        auths.pop(key, None)
    if data != config.data:
        dc.save_config(config, data)
    return failed
