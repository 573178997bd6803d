"""`doca registry serve` refuses unsafe or broken setups before it binds."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from doca.cli.main import cli


def _serve(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["registry", "serve", *args])
    return result.exit_code, result.output


def test_open_registry_on_all_interfaces_is_refused(tmp_path: Path) -> None:
    code, output = _serve("--addr", "0.0.0.0:0", "--root", str(tmp_path / "root"))
    assert code == 1
    assert "refusing to serve an open registry" in output
    assert not (tmp_path / "root").exists()


def test_non_bcrypt_htpasswd_is_refused(tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("alice:$apr1$salt$hash\n")
    code, output = _serve("--root", str(tmp_path / "root"), "--htpasswd", str(htpasswd))
    assert code == 1
    assert "not bcrypt" in output and "htpasswd -B" in output
    assert not (tmp_path / "root").exists()


def test_bad_address(tmp_path: Path) -> None:
    code, output = _serve("--addr", "localhost", "--root", str(tmp_path))
    assert code == 1 and "HOST:PORT" in output


def test_help_names_the_options() -> None:
    code, output = _serve("--help")
    assert code == 0
    for option in ("--addr", "--root", "--htpasswd", "--insecure-open"):
        assert option in output
