"""The macOS and Windows recipes, checked where they cannot be run: every repository file
they name exists, the programs they name are the bundle's, and their metadata says what the
app is (a windowed app with a tray, not a background agent)."""

from __future__ import annotations

import importlib
import plistlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALLERS = REPO / "installers"
MACOS = INSTALLERS / "macos"
WINDOWS = INSTALLERS / "windows"
PYINSTALLER = INSTALLERS / "pyinstaller"
RECIPES = (
    MACOS / "build-app.sh",
    MACOS / "build-dmg.sh",
    WINDOWS / "build.ps1",
    WINDOWS / "doca.iss",
    PYINSTALLER / "doca.spec",
    PYINSTALLER / "bundle_plan.py",
)
# The scripts' names for directories of the repository.
DIRECTORY_VARIABLES = {
    "$repo": REPO,
    "$macos": MACOS,
    "$pyinstaller_dir": PYINSTALLER,
    "$Repo": REPO,
    "$Windows": WINDOWS,
    "$PyInstallerDir": PYINSTALLER,
}
# What the scripts write, not read.
OUTPUTS = {REPO / "dist"}
_IN_REPO = re.compile(r"(?<![\w$.])((?:installers|resources)(?:[/\\][\w.-]+)+)")
_UNDER_VARIABLE = re.compile(r"(\$\w+)[/\\]([\w.-]+(?:[/\\][\w.-]+)*)")

sys.path.insert(0, str(PYINSTALLER))
import bundle_plan  # noqa: E402


def named_paths(text: str) -> set[Path]:
    """The repository paths a recipe names: literally, or under one of the variables that
    stand for a directory of the repository."""
    paths = {REPO / match.replace("\\", "/") for match in _IN_REPO.findall(text)}
    for variable, rest in _UNDER_VARIABLE.findall(text):
        if variable in DIRECTORY_VARIABLES:
            paths.add(DIRECTORY_VARIABLES[variable] / rest.replace("\\", "/"))
    return paths


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_every_file_a_recipe_names_exists(recipe: Path) -> None:
    missing = [p for p in named_paths(recipe.read_text()) - OUTPUTS if not p.exists()]
    assert sorted(str(p.relative_to(REPO)) for p in missing) == []


def test_the_scan_sees_what_the_scripts_name() -> None:
    """The check above would pass on anything if it found nothing."""
    assert all(named_paths(recipe.read_text()) for recipe in RECIPES if recipe.suffix != ".iss")
    named = named_paths((MACOS / "build-app.sh").read_text())
    assert MACOS / "entitlements.plist" in named
    assert PYINSTALLER / "doca.spec" in named and PYINSTALLER / "icons.py" in named
    named = named_paths((WINDOWS / "build.ps1").read_text())
    assert WINDOWS / "doca.iss" in named and PYINSTALLER / "icons.py" in named
    assert named_paths('"$Windows\\missing.iss"') == {WINDOWS / "missing.iss"}


@pytest.mark.parametrize("script", sorted(INSTALLERS.glob("*/*.sh")), ids=lambda p: p.name)
def test_shell_scripts_parse_and_are_executable(script: Path) -> None:
    assert script.stat().st_mode & 0o111
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_program_the_bundles_hold_is_an_entry_point_of_the_project() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert bundle_plan.scripts() == scripts
    for platform, programs in bundle_plan.DEFAULT_PROGRAMS.items():
        for program in programs:
            module, _, function = scripts[program].partition(":")
            assert callable(getattr(importlib.import_module(module), function)), platform
    # The engine runs inside the VM there.
    for platform in ("darwin", "win32"):
        assert "doca-engine" not in bundle_plan.DEFAULT_PROGRAMS[platform]
        assert "docker-credential-doca" in bundle_plan.DEFAULT_PROGRAMS[platform]
    for module in bundle_plan.HIDDEN_IMPORTS:
        assert importlib.util.find_spec(module) is not None


def test_entry_scripts_run_the_entry_point_and_exit_with_its_result() -> None:
    assert bundle_plan.entry_source("doca.cli.main:main") == (
        "import sys\n\nfrom doca.cli.main import main\n\nsys.exit(main())\n"
    )
    with pytest.raises(ValueError):
        bundle_plan.entry_source("doca.cli.main")
    # A script named like a package would be imported in its place.
    assert bundle_plan.entry_name("doca") != "doca"


def test_the_runtime_hook_runs_the_modules_the_bundle_carries_for_it() -> None:
    hook = (PYINSTALLER / "rthook_frozen.py").read_text()
    runnable = re.search(r"_RUNNABLE = \(([^)]*)\)", hook)
    assert runnable is not None
    assert re.findall(r'"([\w.]+)"', runnable.group(1)) == list(bundle_plan.HIDDEN_IMPORTS)


def test_info_plist_describes_a_windowed_app_with_a_tray() -> None:
    info = plistlib.loads((MACOS / "Info.plist").read_bytes())
    assert info["CFBundleExecutable"] == bundle_plan.DEFAULT_PROGRAMS["darwin"][0]
    assert info["CFBundleExecutable"] == "doca-desktop"
    assert info["LSUIElement"] is False
    assert info["LSBackgroundOnly"] is False
    assert info["CFBundlePackageType"] == "APPL"
    assert re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", info["CFBundleIdentifier"])
    # The spec fills the version in from pyproject.toml.
    assert "CFBundleShortVersionString" not in info


def test_entitlements_are_a_plist_of_booleans() -> None:
    entitlements = plistlib.loads((MACOS / "entitlements.plist").read_bytes())
    assert entitlements
    assert all(key.startswith("com.apple.security.") for key in entitlements)
    assert all(value is True for value in entitlements.values())


def test_the_windows_installer_ships_the_windows_programs() -> None:
    iss = (WINDOWS / "doca.iss").read_text()
    named = set(re.findall(r"\{app\}\\([\w-]+)\.exe", iss))
    assert named == {"doca-desktop"}
    assert set(bundle_plan.DEFAULT_PROGRAMS["win32"]) >= named
    # Start menu shortcut, the install directory on PATH (the CLI and the credential helper
    # are found there), and its removal on uninstall.
    assert r'Name: "{autoprograms}\Doca"; Filename: "{app}\doca-desktop.exe"' in iss
    assert 'ValueName: "Path"; ValueData: "{olddata};{app}"' in iss
    assert "RemovePath(ExpandConstant('{app}'))" in iss
    assert "ChangesEnvironment=yes" in iss
    # The one-directory build is what it installs, as build.ps1 passes it.
    assert 'Source: "{#SourceDir}\\*"' in iss
    ps1 = (WINDOWS / "build.ps1").read_text()
    for define in re.findall(r"#ifndef (\w+)", iss):
        assert f'"/D{define}=' in ps1


def test_the_macos_build_bundles_the_vm_image_it_verified() -> None:
    script = (MACOS / "build-app.sh").read_text()
    assert '-m engine_vm.image import "$vm_image" --to "$work/vm-image"' in script
    assert '--vm-image "$work/vm-image"' in script
    ps1 = (WINDOWS / "build.ps1").read_text()
    assert '"engine_vm.image", "import", $VmImage, "--to", "$Work\\vm-image"' in ps1
    assert '"--vm-image", "$Work\\vm-image"' in ps1
