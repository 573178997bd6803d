"""Docker config.json lookup as the docker CLI does it, against fake helpers on a temp PATH."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from doca.credhelper import dockerconfig as dc
from doca.credhelper import helpers
from doca.credhelper.protocol import HUB_URL, NOT_FOUND

HELPER_SCRIPT = """#!{python}
import json, os, subprocess, sys, time
answers = {answers!r}
mode = {mode!r}
action = sys.argv[1]
data = sys.stdin.read()
with open({log!r}, "a") as log:
    log.write(json.dumps([action, data]) + "\\n")
if mode == "hang":
    # A grandchild keeps stdout open: the caller must kill the whole group.
    subprocess.Popen(["/bin/sleep", "60"])
    time.sleep(60)
if mode == "crash":
    print("keychain is locked")
    sys.exit(1)
if mode == "garbage":
    print("<html>")
    sys.exit(0)
if action == "list":
    print(json.dumps({{url: user for url, (user, _) in answers.items()}}))
elif data in answers:
    user, secret = answers[data]
    print(json.dumps({{"ServerURL": data, "Username": user, "Secret": secret}}))
else:
    print({not_found!r})
    sys.exit(1)
"""


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An otherwise empty PATH, so no helper of the machine takes part."""
    path = tmp_path / "bin"
    path.mkdir()
    monkeypatch.setenv("PATH", str(path))
    monkeypatch.delenv("DOCKER_AUTH_CONFIG", raising=False)
    return path


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "docker-config"
    path.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(path))
    return path


def write_config(directory: Path, data: Any) -> None:
    text = data if isinstance(data, str) else json.dumps(data)
    (directory / "config.json").write_text(text)


def fake_helper(
    bin_dir: Path, name: str, answers: dict[str, tuple[str, str]] | None = None, mode: str = ""
) -> Path:
    """Install `docker-credential-<name>`; returns the log of (action, stdin) it receives."""
    log = bin_dir / f"{name}.log"
    script = bin_dir / f"docker-credential-{name}"
    script.write_text(
        HELPER_SCRIPT.format(
            python=sys.executable,
            answers=answers or {},
            mode=mode,
            log=str(log),
            not_found=NOT_FOUND,
        )
    )
    script.chmod(0o755)
    return log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("docker.io", HUB_URL),
        ("index.docker.io", HUB_URL),
        ("registry-1.docker.io", HUB_URL),
        ("https://index.docker.io/v1/", HUB_URL),
        ("", HUB_URL),
        ("localhost:5000", "localhost:5000"),
        ("https://localhost:5000/", "localhost:5000"),
        ("http://r.example/v2/", "r.example"),
        ("r.example/team/app", "r.example"),
        ("https://[::1]:5000/", "[::1]:5000"),
    ],
)
def test_server_address(given: str, key: str) -> None:
    assert dc.server_address(given) == key


def test_cred_helpers_then_creds_store_then_auths(bin_dir: Path, cfg: Path) -> None:
    one = fake_helper(bin_dir, "one", {"a.example": ("ua", "from-one")})
    two = fake_helper(bin_dir, "two", {"b.example": ("ub", "from-two")})
    plain = {"auth": b64("plain:text")}
    write_config(
        cfg,
        {
            "auths": {"a.example": plain, "b.example": plain, "c.example": plain},
            "credsStore": "two",
            "credHelpers": {"a.example": "one"},
        },
    )
    assert dc.credentials_for("https://a.example/") == ("ua", "from-one")
    assert dc.credentials_for("b.example") == ("ub", "from-two")
    # The chosen helper having nothing is final: the CLI never falls back to plaintext.
    assert dc.credentials_for("c.example") is None
    assert calls(one) == [["get", "a.example"]]
    assert calls(two) == [["get", "b.example"], ["get", "c.example"]]

    write_config(cfg, {"auths": {"c.example": plain}, "credHelpers": {"a.example": "one"}})
    assert dc.credentials_for("c.example") == ("plain", "text")


def test_plaintext_auths(bin_dir: Path, cfg: Path) -> None:
    write_config(
        cfg,
        {
            "auths": {
                "https://legacy.example:5000/v1/": {"auth": b64("old:pw-legacy")},
                "both.example": {"auth": b64("fromauth:pw:with:colons\0"), "username": "x"},
                "fields.example": {"username": "u", "password": "p"},
                "token.example": {"identitytoken": "tok-1", "username": "ignored"},
                HUB_URL: {"auth": b64("hubuser:hubpw")},
                "docker.io": {"auth": b64("wrong:key")},
                "empty.example": {},
            },
            "psFormat": "table {{.ID}}",
        },
    )
    assert dc.credentials_for("legacy.example:5000") == ("old", "pw-legacy")
    assert dc.credentials_for("both.example") == ("fromauth", "pw:with:colons")
    assert dc.credentials_for("fields.example") == ("u", "p")
    assert dc.credentials_for("token.example") == ("<token>", "tok-1")
    # Hub is only ever looked up by its URL key.
    assert dc.credentials_for("docker.io") == ("hubuser", "hubpw")
    assert dc.credentials_for("empty.example") is None
    assert dc.credentials_for("other.example") is None


def test_helper_receives_the_cli_key(bin_dir: Path, cfg: Path) -> None:
    log = fake_helper(bin_dir, "k", {HUB_URL: ("<token>", "idtok"), "r.example:5000": ("u", "s")})
    write_config(cfg, {"credsStore": "k"})
    assert dc.credentials_for("registry-1.docker.io") == ("<token>", "idtok")
    assert dc.credentials_for("https://r.example:5000/v2/") == ("u", "s")
    assert calls(log) == [["get", HUB_URL], ["get", "r.example:5000"]]


def decode_header(value: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(value))


def test_auth_header_value(bin_dir: Path, cfg: Path) -> None:
    fake_helper(bin_dir, "k", {HUB_URL: ("<token>", "idtok"), "r.example": ("u", "s/+?")})
    write_config(cfg, {"credsStore": "k"})
    hub = dc.auth_header_value("docker.io")
    assert hub is not None
    assert decode_header(hub) == {"serveraddress": HUB_URL, "identitytoken": "idtok"}
    value = dc.auth_header_value("r.example")
    assert value is not None and "+" not in value and "/" not in value
    assert decode_header(value) == {
        "username": "u",
        "password": "s/+?",
        "serveraddress": "r.example",
    }
    assert dc.auth_header_value("none.example") is None


def test_default_store_only_without_any_auth(bin_dir: Path, cfg: Path) -> None:
    ss = fake_helper(bin_dir, "secretservice", {"r.example": ("u", "from-ss")})
    assert dc.credentials_for("r.example") == ("u", "from-ss")  # no config.json at all
    write_config(cfg, {"psFormat": "x"})
    assert dc.credentials_for("r.example") == ("u", "from-ss")
    write_config(cfg, {"auths": {"other.example": {}}})
    assert dc.credentials_for("r.example") is None
    assert len(calls(ss)) == 2
    # With `pass` installed the CLI only considers docker-credential-pass.
    write_config(cfg, {})
    (bin_dir / "pass").write_text("#!/bin/sh\n")
    (bin_dir / "pass").chmod(0o755)
    assert dc.detect_default_store() == ""
    fake_helper(bin_dir, "pass", {"r.example": ("u", "from-pass")})
    assert dc.credentials_for("r.example") == ("u", "from-pass")


def test_docker_auth_config_answers_first(
    bin_dir: Path, cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_helper(bin_dir, "k", {"r.example": ("u", "from-helper")})
    write_config(cfg, {"credsStore": "k"})
    env_auths = {"auths": {"e.example": {"auth": b64("envuser:envpw")}}}
    monkeypatch.setenv("DOCKER_AUTH_CONFIG", json.dumps(env_auths))
    assert dc.credentials_for("e.example") == ("envuser", "envpw")
    assert dc.credentials_for("r.example") == ("u", "from-helper")
    monkeypatch.setenv("DOCKER_AUTH_CONFIG", "{not json")
    assert dc.credentials_for("r.example") == ("u", "from-helper")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"auths": []}', "auths must be an object"),
        ('{"credsStore": 5}', "credsStore must be a string"),
        ('{"credHelpers": {"r.example": 1}}', "credHelpers must map"),
        ('{"auths": {"r.example": "x"}}', "auths['r.example']"),
        ('{"auths": {"r.example": {"auth": 5}}}', "auths['r.example']"),
        ('{"auths": {"r.example": {"auth": "%%%"}}}', "not base64"),
        ('{"auths": {"r.example": {"auth": "' + b64("nocolon") + '"}}}', "not base64"),
        ('{"auths": {"r.example": {"auth": "' + b64(":pw") + '"}}}', "not base64"),
        (b"\xff\xfe{}", "not valid JSON"),
    ],
)
def test_hostile_configs(bin_dir: Path, cfg: Path, text: str | bytes, message: str) -> None:
    path = cfg / "config.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(dc.ConfigError) as info:
        dc.credentials_for("r.example")
    assert message in str(info.value)
    assert str(path) in str(info.value) or "base64" in message


def test_unknown_keys_of_any_type_are_kept(bin_dir: Path, cfg: Path) -> None:
    write_config(cfg, {"auths": {"r.example": {"auth": b64("u:p"), "x-extra": [1]}}, "k": None})
    assert dc.credentials_for("r.example") == ("u", "p")
    write_config(cfg, "  \n")  # the CLI accepts an empty file
    assert dc.credentials_for("r.example") is None


def test_huge_config_is_refused_without_reading_it_all(bin_dir: Path, cfg: Path) -> None:
    path = cfg / "config.json"
    with path.open("wb") as f:
        f.write(b'{"auths": {}, "pad": "')
        f.truncate(dc.MAX_CONFIG_BYTES * 50)
    with pytest.raises(dc.ConfigError, match="larger than"):
        dc.load_config()


def test_hanging_helper_times_out(bin_dir: Path, cfg: Path) -> None:
    fake_helper(bin_dir, "slow", mode="hang")
    write_config(cfg, {"credsStore": "slow"})
    started = time.monotonic()
    with pytest.raises(helpers.HelperError) as info:
        dc.credentials_for("r.example", timeout=0.5)
    assert time.monotonic() - started < 10
    assert "docker-credential-slow did not answer `get` within 0.5 seconds" in str(info.value)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("crash", "docker-credential-bad `get` failed: keychain is locked"),
        ("garbage", "docker-credential-bad `get`: bad JSON output"),
        ("missing", "docker-credential-bad is not installed"),
    ],
)
def test_failing_helper_is_named(bin_dir: Path, cfg: Path, mode: str, message: str) -> None:
    if mode != "missing":
        fake_helper(bin_dir, "bad", mode=mode)
    write_config(cfg, {"credHelpers": {"r.example": "bad"}})
    with pytest.raises(helpers.HelperError, match=message):
        dc.credentials_for("r.example")


def test_helper_list(bin_dir: Path) -> None:
    fake_helper(bin_dir, "k", {"r.example": ("u", "s"), HUB_URL: ("<token>", "t")})
    assert helpers.helper_list("k") == {"r.example": "u", HUB_URL: "<token>"}


def test_backup_and_atomic_save_keep_order_and_links(cfg: Path, tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "docker.json"
    real.parent.mkdir()
    original = '{"psFormat": "x", "auths": {"r.example": {"auth": "dTpw"}}, "zz": 1}'
    real.write_text(original)
    real.chmod(0o644)
    (cfg / "config.json").symlink_to(real)
    config = dc.load_config()
    backup = dc.backup_config(config)
    second = dc.backup_config(config)
    assert backup is not None and second is not None and backup != second
    assert backup.read_text() == original
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert backup.name.startswith("docker.json.bak-")

    dc.save_config(config, {**config.data, "credsStore": "doca"})
    assert (cfg / "config.json").is_symlink()
    assert list(json.loads(real.read_text())) == ["psFormat", "auths", "zz", "credsStore"]
    assert stat.S_IMODE(real.stat().st_mode) == 0o644
    leftovers = [p.name for p in real.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_save_creates_a_private_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "new" / ".docker"
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    config = dc.load_config()
    assert not config.exists and dc.backup_config(config) is None
    dc.save_config(config, {"auths": {}, "credsStore": "doca"})
    assert stat.S_IMODE((directory / "config.json").stat().st_mode) == 0o600
    assert dc.load_config().creds_store == "doca"
    assert os.listdir(directory) == ["config.json"]
