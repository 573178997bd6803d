"""The shared PyInstaller spec, frozen here for Linux with the doca CLI and the credential
helper only (the part of the macOS and Windows builds that can run on this machine): the
frozen programs print what the source does, and the frozen CLI boots its VM from the image
bundled beside it, running the VM's host process through its own executable.

About 20-40 seconds. Skipped when PyInstaller is not installed (pip install pyinstaller)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.vm.fake_image import make_image

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "installers" / "pyinstaller" / "doca.spec"
PROGRAMS = ("doca", "docker-credential-doca")
# No engine answers here: both the frozen and the source CLI must say so the same way.
NO_ENGINE = "unix:///nonexistent/doca-test.sock"

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (pip install pyinstaller)")
    work = tmp_path_factory.mktemp("pyinstaller")
    vm_image = make_image(work / "vm-image")
    result = subprocess.run(
        [
            sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm", "--log-level", "WARN",
            "--distpath", str(work / "dist"), "--workpath", str(work / "build"), "--",
            "--programs", ",".join(PROGRAMS), "--vm-image", str(vm_image.directory),
        ],
        cwd=REPO, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return work / "dist" / "doca"


def _run(argv: list[str], env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DOCKER_HOST": NO_ENGINE, **(env or {})}
    environ.pop("DOCA_VM_IMAGE", None)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=environ,
                          check=False)  # fmt: skip


def _source(program: str) -> list[str]:
    module, function = {
        "doca": ("doca.cli.main", "main"),
        "docker-credential-doca": ("doca.credhelper.main", "main"),
    }[program]
    return [sys.executable, "-c", f"import sys; from {module} import {function}; "
            f"sys.argv[0] = {program!r}; sys.exit({function}())"]  # fmt: skip


def test_the_bundle_holds_the_programs_and_the_vm_image(bundle: Path) -> None:
    for program in PROGRAMS:
        assert os.access(bundle / program, os.X_OK)
    assert not (bundle / "doca-engine").exists()
    image = bundle / "_internal" / "vm-image"
    assert sorted(p.name for p in image.iterdir()) == sorted(
        ["image.json", "vmlinuz", "initrd.img", "root.img"]
    )


def test_frozen_credential_helper_prints_its_version(bundle: Path) -> None:
    frozen = _run([str(bundle / "docker-credential-doca"), "version"])
    assert (frozen.returncode, frozen.stdout) == (0, "docker-credential-doca (doca) 0.1.0\n")
    assert frozen.stdout == _run([*_source("docker-credential-doca"), "version"]).stdout


def test_frozen_cli_prints_the_client_version_as_the_source_does(bundle: Path) -> None:
    frozen = _run([str(bundle / "doca"), "version"])
    source = _run([*_source("doca"), "version"])
    assert frozen.returncode == source.returncode == 1
    assert " Version:           0.1.0\n" in frozen.stdout
    assert (frozen.stdout, frozen.stderr) == (source.stdout, source.stderr)


def test_frozen_cli_starts_its_vm_from_the_bundled_image(bundle: Path, tmp_path: Path) -> None:
    """``doca engine start --vm`` finds the image in the bundle and starts the VM's host
    process as ``doca -m engine_vm.service``; QEMU is ``false`` here, so the start fails
    after the service has run it with the bundled kernel and disk."""
    state = tmp_path / "state"
    started = _run(
        [str(bundle / "doca"), "engine", "start", "--vm", "-H", f"unix://{tmp_path}/s.sock",
         "--state-dir", str(state)],
        env={"DOCA_VM_QEMU": "/bin/false", "DOCA_VM_CACHE": str(tmp_path / "no-cache")},
    )  # fmt: skip
    assert started.returncode == 1
    assert started.stderr.startswith("the VM exited at start (code 1). Its log ends:\n")
    log = (state / "service.log").read_text()
    image = bundle / "_internal" / "vm-image"
    assert "starting QEMU: /bin/false " in log
    assert f" -kernel {image}/vmlinuz -initrd {image}/initrd.img " in log
    assert f"file={image}/root.img,format=raw,readonly=on" in log
    assert not (tmp_path / "no-cache").exists()


def test_frozen_program_runs_only_the_modules_it_carries_for_dash_m(bundle: Path) -> None:
    service = _run([str(bundle / "doca"), "-m", "engine_vm.service"])
    assert (service.returncode, service.stderr) == (
        2, "usage: python -m engine_vm.service STATE_DIR\n"
    )  # fmt: skip
    other = _run([str(bundle / "doca"), "-m", "http.server"])
    assert (other.returncode, other.stderr) == (2, "doca: -m http.server: not in this bundle\n")
