"""ssh:// engine addresses: how they are read, the ssh command they make, and the connector
that speaks HTTP through that command (here a stand-in ``ssh`` that relays to a local server
with `doca system dial-stdio`, or one that fails as ssh does)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from aiohttp import web

from doca.client import EngineClient, EngineUnavailable
from doca.client.ssh_connector import SSHSpec, parse_ssh_url, remote_command, ssh_argv

DOCA = Path(sys.executable).with_name("doca")


def test_ssh_urls_are_read_as_the_docker_cli_reads_them() -> None:
    assert parse_ssh_url("ssh://host") == SSHSpec("host")
    assert parse_ssh_url("ssh://me@host:2222/run/doca/doca.sock") == SSHSpec(
        "host", "me", "2222", "/run/doca/doca.sock"
    )
    assert parse_ssh_url("ssh://me@[::1]:22").host == "::1"
    for url, reason in (
        ("ssh://me:secret@host", "plain-text password is not supported"),
        ("ssh://", "hostname is empty"),
        ("ssh://host?x=1", 'query parameters are not allowed: "x=1"'),
        ("ssh://host#f", 'fragments are not allowed: "f"'),
    ):
        with pytest.raises(ValueError, match="ssh host connection is not valid: ") as error:
            parse_ssh_url(url)
        assert str(error.value).endswith(reason)


def test_the_ssh_command_is_the_docker_clis_with_a_fallback_to_doca() -> None:
    argv = ssh_argv(SSHSpec("host", "me", "2222"))
    assert argv[:-1] == ["ssh", "-o", "ConnectTimeout=30", "-T", "-o", "BatchMode=yes",
                         "-l", "me", "-p", "2222", "--", "host"]  # fmt: skip
    assert argv[-1] == (
        "command -v docker >/dev/null 2>&1 && exec docker system dial-stdio"
        " || exec doca system dial-stdio"
    )
    assert ssh_argv(SSHSpec("host"))[-2:-1] == ["host"]
    # A socket path goes to the remote CLI as --host, quoted for the remote shell.
    assert remote_command(SSHSpec("host", path="/tmp/my engine.sock")) == (
        "command -v docker >/dev/null 2>&1 && exec docker "
        "'--host=unix:///tmp/my engine.sock' system dial-stdio"
        " || exec doca '--host=unix:///tmp/my engine.sock' system dial-stdio"
    )


def _fake_ssh(directory: Path, body: str) -> str:
    """A PATH with an ``ssh`` that runs ``body`` (a shell script) instead."""
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    script = bin_dir / "ssh"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return f"{bin_dir}:/usr/bin:/bin"


async def test_http_goes_through_the_command_and_its_processes_end_with_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="OK", headers={"Api-Version": "1.47"})

    async def version(request: web.Request) -> web.Response:
        return web.json_response({"ApiVersion": "1.47", "Version": "test"})

    app = web.Application()
    app.router.add_get("/v1.47/_ping", ping)
    app.router.add_get("/v1.47/version", version)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = tmp_path / "engine.sock"
    site = web.UnixSite(runner, str(sock))
    await site.start()
    relay = f"exec {DOCA} -H unix://{sock} system dial-stdio"
    monkeypatch.setenv("PATH", _fake_ssh(tmp_path, relay))
    try:
        client = EngineClient("ssh://me@remote")
        try:
            assert await client.ping()
            assert (await client.version())["Version"] == "test"
            connector = client._transport._ssh
            assert connector is not None and connector._processes
        finally:
            await client.close()
        assert not connector._processes and not connector._watchers
    finally:
        await runner.cleanup()


async def test_a_failed_ssh_is_reported_with_what_it_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse = 'echo "root@remote: Permission denied (publickey)." >&2; exit 255'
    monkeypatch.setenv("PATH", _fake_ssh(tmp_path, refuse))
    async with EngineClient("ssh://root@remote:2200") as client:
        with pytest.raises(EngineUnavailable) as error:
            await client.version()
    assert error.value.message.startswith(
        "command [ssh -o ConnectTimeout=30 -T -o BatchMode=yes -l root -p 2200 -- remote "
    )
    assert error.value.message.endswith(
        "has exited with exit status 255, make sure the URL is valid, and Doca or Docker "
        "18.09 or later is installed on the remote host: "
        "stderr=root@remote: Permission denied (publickey)."
    )


async def test_no_ssh_at_all_is_said_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    async with EngineClient("ssh://remote") as client:
        with pytest.raises(EngineUnavailable) as error:
            await client.info()
    assert error.value.message == 'exec: "ssh": executable file not found in $PATH'
