"""Registry commands: pull, push, login, logout.

Output follows the docker CLI when its stdout is not a terminal (jsonmessage's non-TTY display)
and is drawn live on one (``progress_display``); logins are kept in the docker CLI's config.json
exactly where `docker login` keeps them, so either CLI finds what the other stored."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any, NoReturn

import click

from doca.cli.progress_display import LiveProgress, live_display_wanted, progress_line
from doca.cli.runner import GENERAL_ERROR, Session
from doca.client import EngineClient, EngineError
from doca.credhelper import dockerconfig as dc
from doca.credhelper.helpers import HelperError
from doca.credhelper.logins import HUB_DOMAIN, erase_login, login_address, logout_keys, store_login

DEFAULT_TAG = "latest"
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"\w[\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_DOMAIN = re.compile(r"(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:.%]+\])(?::[0-9]+)?")
UNENCRYPTED_WARNING = (
    "WARNING! Your credentials are stored unencrypted in '{path}'.\n"
    "Configure a credential helper to remove this warning. See\n"
    "https://docs.docker.com/go/credential-store/\n"
)


@dataclass(frozen=True)
class Reference:
    """An image reference as reference.ParseNormalizedNamed reads it."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository as the docker CLI sends it: Docker Hub's without domain or library/."""
        if self.domain != HUB_DOMAIN:
            return self.name
        return self.path.removeprefix("library/") if self.path.count("/") == 1 else self.path

    def __str__(self) -> str:
        return (
            self.name
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )


def parse_reference(text: str) -> Reference:
    """``NAME[:TAG][@DIGEST]`` normalized (Docker Hub's domain and ``library/`` filled in);
    ValueError with the docker CLI's wording for a malformed one."""
    name, at, digest = text.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        raise ValueError("invalid reference format")
    slash, colon = name.rfind("/"), name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise ValueError("invalid reference format")
    first, sep, rest = name.partition("/")
    if sep and (any(c in first for c in ".:") or first == "localhost" or first != first.lower()):
        domain, path = first, rest
        if not _DOMAIN.fullmatch(domain):
            raise ValueError("invalid reference format")
    else:
        domain, path = HUB_DOMAIN, name
    if domain == "index.docker.io":
        domain = HUB_DOMAIN
    if domain == HUB_DOMAIN and "/" not in path:
        path = "library/" + path
    if path != path.lower():
        raise ValueError(f"invalid reference format: repository name ({path}) must be lowercase")
    if not all(_COMPONENT.fullmatch(part) for part in path.split("/")):
        raise ValueError("invalid reference format")
    return Reference(domain, path, tag, digest)


async def show_progress(
    messages: AsyncIterator[dict[str, Any]], quiet: bool, live: bool = False
) -> None:
    """Print the progress of a pull, push or load: drawn live with ``live`` (on a terminal),
    else as the docker CLI's lines. An error once the stream has begun is printed as the
    docker CLI prints it (the bare message) and ends the command with exit code 1; an error
    before that is the engine's answer to the request and propagates."""
    seen = False
    try:
        with contextlib.ExitStack() as stack:
            display = stack.enter_context(LiveProgress()) if live else None
            async for message in messages:
                seen = True
                if display is not None:
                    display.feed(message)
                    continue
                line = progress_line(message)
                if line is not None and not quiet:
                    click.echo(line, nl=False)
    except EngineError as error:
        if not seen or error.status == 0:
            raise
        click.echo(error.message, err=True)
        sys.exit(GENERAL_ERROR)


def _die(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(GENERAL_ERROR)


def _reference(text: str) -> Reference:
    try:
        return parse_reference(text)
    except ValueError as error:
        _die(str(error))


def _registry_auth(reference: Reference) -> str | None:
    """``X-Registry-Auth`` for the reference's registry, found as the docker CLI finds it."""
    try:
        return dc.auth_header_value(reference.domain)
    except (dc.ConfigError, HelperError) as error:
        _die(str(error))


@click.command()
@click.option("--platform", default="", metavar="OS/ARCH", help="Pull this platform's image.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image reference.")
@click.argument("image", metavar="NAME[:TAG|@DIGEST]")
@click.pass_obj
def pull(session: Session, platform: str, quiet: bool, image: str) -> None:
    """Download an image from a registry."""
    reference = _reference(image)
    if not reference.tag and not reference.digest:
        if not quiet:
            click.echo(f"Using default tag: {DEFAULT_TAG}")
        reference = replace(reference, tag=DEFAULT_TAG)
    auth = _registry_auth(reference)

    async def operation(client: EngineClient) -> None:
        tag = reference.digest or reference.tag
        messages = client.images.pull(reference.familiar_name, tag, platform, auth)
        await show_progress(messages, quiet, live_display_wanted(quiet))

    session.run(operation)
    click.echo(str(reference))


@click.command()
@click.option("-a", "--all-tags", is_flag=True, help="Push every tag of the repository.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image reference.")
@click.argument("image", metavar="NAME[:TAG]")
@click.pass_obj
def push(session: Session, all_tags: bool, quiet: bool, image: str) -> None:
    """Upload an image to a registry."""
    reference = _reference(image)
    if all_tags and reference.tag:
        _die("tag can't be used with --all-tags/-a")
    if not all_tags and not reference.tag:
        if not quiet:
            click.echo(f"Using default tag: {DEFAULT_TAG}")
        reference = replace(reference, tag=DEFAULT_TAG)
    auth = _registry_auth(reference)

    async def operation(client: EngineClient) -> None:
        messages = client.images.push(reference.familiar_name, reference.tag, auth)
        await show_progress(messages, quiet, live_display_wanted(quiet))

    session.run(operation)
    if quiet:
        click.echo(str(reference))


def _read_password_stdin() -> str:
    return sys.stdin.read().removesuffix("\n").removesuffix("\r")


@click.command()
@click.option("-u", "--username", help="Username.")
@click.option("-p", "--password", help="Password (prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.argument("server", required=False)
@click.pass_obj
def login(
    session: Session,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    server: str | None,
) -> None:
    """Log in to a registry (Docker Hub without SERVER)."""
    if password_stdin:
        if password:
            _die("--password and --password-stdin are mutually exclusive")
        if not username:
            _die("Must provide --username with --password-stdin")
        password = _read_password_stdin()
    elif password:
        click.echo("WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
                   err=True)  # fmt: skip
    if not username or not password:
        if not sys.stdin.isatty():
            _die("Error: Cannot perform an interactive login from a non TTY device")
        username = username or click.prompt("Username")
        password = password or click.prompt("Password", hide_input=True)
    assert username is not None and password is not None
    address = login_address(server)
    answer = session.run(lambda client: client.login(username, password, address))
    try:
        plaintext = store_login(address, username, password, str(answer.get("IdentityToken") or ""))
    except (dc.ConfigError, HelperError, OSError) as error:
        _die(f"Error saving credentials: {error}")
    if plaintext:
        click.echo(UNENCRYPTED_WARNING.format(path=dc.load_config().path), nl=False, err=True)
    click.echo("Login Succeeded")


@click.command()
@click.argument("server", required=False)
def logout(server: str | None) -> None:
    """Log out from a registry (Docker Hub without SERVER)."""
    click.echo(f"Removing login credentials for {login_address(server)}")
    keys = logout_keys(server)
    try:
        failed = erase_login(keys)
    except (dc.ConfigError, OSError) as error:
        _die(str(error))
    # As the docker CLI: success when any of the keys could be erased.
    if len(failed) == len(keys):
        click.echo("WARNING: could not erase credentials:", err=True)
        for key, message in failed.items():
            click.echo(f"{key}: {message}", err=True)


COMMANDS = (pull, push, login, logout)
