"""Logging in to and out of a registry from the app, as `docker login`/`docker logout` do:
the engine checks the credentials (``POST /auth``), then the login is kept where the docker CLI
keeps it (the registry's credential helper or the credsStore, else plaintext ``auths``);
logging out erases it under every spelling `docker logout` erases. Qt-free."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from doca.client import EngineClient
from doca.credhelper.dockerconfig import ConfigError, helper_for, load_config
from doca.credhelper.helpers import HelperError
from doca.credhelper.logins import erase_login, login_address, logout_keys, store_login


class LoginFailed(Exception):
    """Why a login or logout did not happen; its text is for the user."""


@dataclass(frozen=True)
class LoginRequest:
    server: str
    username: str
    password: str

    def problem(self) -> str | None:
        """What the form lacks, in the docker CLI's words; None when it can be sent."""
        if not self.username.strip():
            return "Username is required"
        if not self.password:
            return "Password is required"
        return None


def secret_keeper(server: str, directory: Path | None = None) -> str:
    """Where a login to ``server`` would be kept: the helper's program, or plaintext."""
    try:
        helper = helper_for(load_config(directory), login_address(server or None))
    except ConfigError as exc:
        raise LoginFailed(str(exc)) from exc
    return f"docker-credential-{helper}" if helper else "plaintext in config.json"


async def log_in(client: EngineClient, request: LoginRequest, directory: Path | None = None) -> str:
    """Check the login with the engine, then keep it; what `docker login` prints."""
    problem = request.problem()
    if problem:
        raise LoginFailed(problem)
    address = login_address(request.server.strip() or None)
    answer = await client.login(request.username.strip(), request.password, address)
    token = str(answer.get("IdentityToken") or "")
    try:
        await asyncio.to_thread(store_login, address, request.username.strip(),
                                request.password, token, directory)  # fmt: skip
    except (ConfigError, HelperError) as exc:
        raise LoginFailed(f"Error saving credentials: {exc}") from exc
    return str(answer.get("Status") or "Login Succeeded")


async def log_out(server: str, directory: Path | None = None) -> None:
    """Forget the login to ``server`` (every key `docker logout` would erase)."""
    try:
        failed = await asyncio.to_thread(erase_login, logout_keys(server or None), directory)
    except (ConfigError, HelperError) as exc:
        raise LoginFailed(str(exc)) from exc
    if failed:
        raise LoginFailed("; ".join(f"{key}: {why}" for key, why in failed.items()))
