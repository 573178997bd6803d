"""The .deb end to end: built by installers/linux/build-deb, installed with apt in a fresh
Debian minbase chroot, its commands run, its units verified by systemd, and removed again.

Needs root, dpkg-deb, debootstrap and Debian's mirror. About two minutes (the first run of a
day also downloads the minbase tarball into ~/.cache/doca-tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.installers.debian_chroot import Chroot

REPO = Path(__file__).resolve().parents[2]
BUILD_DEB = REPO / "installers/linux/build-deb"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
COMMANDS = ("doca", "doca-engine", "doca-desktop", "docker-credential-doca")
UNITS = ("doca.socket", "doca.service")
USER_UNIT = "/usr/lib/systemd/user/doca-engine.service"  # the rootless engine
WANTS = (
    "/etc/systemd/system/sockets.target.wants/doca.socket",
    "/etc/systemd/system/multi-user.target.wants/doca.service",
)
PACKAGED = (
    "/opt/doca",
    *(f"/usr/bin/{command}" for command in COMMANDS),
    *(f"/lib/systemd/system/{unit}" for unit in UNITS),
    "/usr/lib/sysusers.d/doca.conf",
    USER_UNIT,
    "/usr/share/applications/doca-desktop.desktop",
    "/usr/share/icons/hicolor/scalable/apps/doca.svg",
)
# Checked once the package's Recommends are in: the desktop entry and the units by their tools.
TOOLS = ("systemd", "desktop-file-utils")

pytestmark = pytest.mark.timeout(600)


def _missing_capability() -> str | None:
    if os.geteuid() != 0:
        return "building a chroot and installing a package in it needs root"
    for tool in ("dpkg-deb", "debootstrap", "chroot"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (installers/linux/setup.sh test installs it)"
    return None


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    reason = _missing_capability()
    if reason:
        pytest.skip(reason)
    dist = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [str(BUILD_DEB), "--out", str(dist)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"build-deb failed:\n{result.stderr[-5000:]}"
    built = Path(result.stdout.strip().splitlines()[-1])
    assert built.parent == dist and built.name.startswith(f"doca_{VERSION}_"), built
    yield built
    shutil.rmtree(dist, ignore_errors=True)


@pytest.fixture(scope="module")
def chroot(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chroot]:
    """A minbase chroot with the package installed by apt (without its Recommends, so the
    maintainer scripts meet neither systemd nor systemd-sysusers), then the Recommends and
    the tools that check the package."""
    scratch = tmp_path_factory.mktemp("debootstrap")
    with Chroot(scratch / "root", scratch) as tree:
        shutil.copy(deb, tree.path(f"/tmp/{deb.name}"))
        tree.apt_install([f"/tmp/{deb.name}"])
        recommends = tree.check("dpkg-query", "-W", "-f=${Recommends}", "doca")
        tree.apt_install([*recommends.replace(",", " ").split(), *TOOLS])
        yield tree
    shutil.rmtree(scratch, ignore_errors=True)


def test_commands_run_from_the_venv(chroot: Chroot) -> None:
    assert "usage: doca-engine" in chroot.check("doca-engine", "--help")
    assert chroot.check("doca-engine", "--version").strip() == "Doca Engine version " + VERSION
    assert "Usage: doca" in chroot.check("doca", "--help")
    assert VERSION in chroot.check("docker-credential-doca", "version")
    for command in COMMANDS:
        assert os.readlink(chroot.path(f"/usr/bin/{command}")) == f"/opt/doca/bin/{command}"
        shebang = chroot.path(f"/opt/doca/bin/{command}").read_text().splitlines()[0]
        assert shebang.startswith("#!/opt/doca/bin/python"), (command, shebang)


def test_nothing_refers_to_the_build_tree(chroot: Chroot) -> None:
    staging = chroot.run("grep", "-rlF", "/pkg/opt/doca", "/opt/doca")
    assert staging.returncode == 1, staging.stdout
    # Bytecode is shipped, so running the commands wrote none of its own.
    on_disk = set(chroot.check("find", "/opt/doca").splitlines())
    packaged = set(chroot.check("dpkg", "-L", "doca").splitlines())
    assert on_disk <= packaged, sorted(on_disk - packaged)[:20]


def test_units_verify_and_are_enabled(chroot: Chroot) -> None:
    verify = chroot.run("systemd-analyze", "verify", *UNITS)
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")
    verify = chroot.run("systemd-analyze", "verify", USER_UNIT)
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")
    # The postinst's hand-made links are what systemctl itself reads as "enabled".
    assert chroot.check("systemctl", "is-enabled", *UNITS).split() == ["enabled", "enabled"]


def test_the_socket_group_exists(chroot: Chroot) -> None:
    assert chroot.check("getent", "group", "doca").startswith("doca:x:")
    socket_unit = chroot.path("/lib/systemd/system/doca.socket").read_text()
    assert "SocketGroup=doca" in socket_unit


def test_desktop_entry_validates(chroot: Chroot) -> None:
    assert (
        chroot.check("desktop-file-validate", "/usr/share/applications/doca-desktop.desktop") == ""
    )


def test_recommends_give_qt_its_libraries(chroot: Chroot) -> None:
    [found] = chroot.path("/opt/doca/lib").glob("python3.*/site-packages/PySide6/Qt")
    qt = f"/{found.relative_to(chroot.root)}"
    for plugin in ("platforms/libqxcb.so", "platforms/libqwayland.so"):
        libraries = chroot.check(
            "ldd", f"{qt}/plugins/{plugin}", env={"LD_LIBRARY_PATH": f"{qt}/lib"}
        )
        assert "not found" not in libraries, libraries
    app = "from PySide6.QtWidgets import QApplication; QApplication([]); print('ok')"
    out = chroot.check("/opt/doca/bin/python", "-c", app, env={"QT_QPA_PLATFORM": "offscreen"})
    assert out.strip() == "ok"


def test_tray_icons_are_where_the_tray_looks(chroot: Chroot) -> None:
    script = (
        "from desktop_app.tray import ICON_FILES, ICONS_DIR\n"
        "print(*sorted(f for f in set(ICON_FILES.values()) if not (ICONS_DIR / f).is_file()))"
    )
    out = chroot.check("/opt/doca/bin/python", "-c", script, env={"QT_QPA_PLATFORM": "offscreen"})
    assert out.strip() == "", f"missing tray icons: {out}"


def test_upgrade_keeps_a_disabled_unit_disabled(chroot: Chroot, deb: Path) -> None:
    chroot.check("systemctl", "disable", "doca.service")
    chroot.check("dpkg", "-i", f"/tmp/{deb.name}")
    assert chroot.run("systemctl", "is-enabled", "doca.service").stdout.strip() == "disabled"
    assert chroot.check("systemctl", "is-enabled", "doca.socket").strip() == "enabled"


def test_remove_then_purge(chroot: Chroot) -> None:
    chroot.check("apt-get", "remove", "-y", "-q", "doca")
    left = [path for path in PACKAGED if os.path.lexists(chroot.path(path))]
    assert left == []
    assert chroot.path("/etc/doca/daemon.json").is_file()  # a conffile stays until purge
    chroot.check("apt-get", "purge", "-y", "-q", "doca")
    assert not chroot.path("/etc/doca").exists()
    assert [link for link in WANTS if os.path.lexists(chroot.path(link))] == []
    status = chroot.run("dpkg-query", "-W", "-f=${db:Status-Status}", "doca")
    assert status.stdout in ("", "not-installed")
