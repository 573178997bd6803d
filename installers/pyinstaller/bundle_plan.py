"""What the frozen bundle holds on each platform, for ``doca.spec``: which programs, their
entry scripts, the data files and the options the build scripts pass.

The programs and their entry points come from ``[project.scripts]`` in pyproject.toml, so a
renamed entry point cannot drift from the bundle. macOS and Windows leave ``doca-engine`` out:
there the engine runs inside the VM, whose image the bundle carries instead.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
APP_NAME = "Doca"
#: Build the bundle as this directory under dist/ (and Doca.app on macOS).
COLLECT_NAME = "doca"
#: Programs without a console: the desktop app (no terminal window pops up on Windows).
WINDOWED = frozenset({"doca-desktop"})
DEFAULT_PROGRAMS = {
    "linux": ("doca-desktop", "doca", "docker-credential-doca", "doca-engine"),
    "darwin": ("doca-desktop", "doca", "docker-credential-doca"),
    "win32": ("doca-desktop", "doca", "docker-credential-doca"),
}
#: Imported by name only: ``engine_vm.control`` starts the VM's host process as
#: ``sys.executable -m engine_vm.service`` (see rthook_frozen.py).
HIDDEN_IMPORTS = ("engine_vm.service",)
#: Distributions whose metadata the programs read (``importlib.metadata.version("doca")``).
METADATA = ("doca",)
#: Imported only when present, by packages the programs use (pygments' image formatter wants
#: Pillow, Pillow's hooks numpy), and none of them needed: a development venv has them for the
#: benchmarks' plots and the tests.
EXCLUDES = ("PIL", "numpy", "matplotlib", "pytest", "mypy", "tkinter")
RUNTIME_HOOK = HERE / "rthook_frozen.py"
#: Where the bundle keeps an unpacked VM image (engine_vm.image_layout.BUNDLED_DIR).
VM_IMAGE_DEST = "vm-image"
#: The tray's icons, found beside the desktop_app package (desktop_app/tray.py).
ICONS = (REPO / "resources/icons", "resources/icons")
#: The keys of Doca.app's Info.plist besides PyInstaller's.
INFO_PLIST = REPO / "installers/macos/Info.plist"


@dataclass(frozen=True)
class Options:
    platform: str
    programs: tuple[str, ...]
    vm_image: Path | None
    icon: Path | None
    codesign_identity: str | None = None  # macOS: sign with this identity, not ad hoc
    entitlements: Path | None = None  # macOS: the hardened runtime's entitlements


def scripts(pyproject: Path = REPO / "pyproject.toml") -> dict[str, str]:
    """``[project.scripts]``: program name → ``module:function``."""
    table = tomllib.loads(pyproject.read_text())["project"]["scripts"]
    return {str(name): str(target) for name, target in table.items()}


def entry_source(target: str) -> str:
    """The entry script of a program whose entry point is ``module:function``."""
    module, _, function = target.partition(":")
    if not module or not function:
        raise ValueError(f"entry point {target!r} is not module:function")
    return f"import sys\n\nfrom {module} import {function}\n\nsys.exit({function}())\n"


def entry_name(program: str) -> str:
    """The name of a program's entry script (how the spec tells the programs apart). Not the
    program's own name: a script ``doca.py`` would shadow the ``doca`` package."""
    return f"{program}-entry"


def write_entries(programs: Sequence[str], directory: Path) -> list[Path]:
    """Write each program's entry script into ``directory``."""
    targets = scripts()
    unknown = [name for name in programs if name not in targets]
    if unknown:
        raise SystemExit(f"doca.spec: no [project.scripts] entry for {', '.join(unknown)}")
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in programs:
        path = directory / f"{entry_name(name)}.py"
        path.write_text(entry_source(targets[name]))
        paths.append(path)
    return paths


def datas(options: Options) -> list[tuple[str, str]]:
    found = [(str(ICONS[0]), ICONS[1])]
    if options.vm_image is not None:
        found.append((str(options.vm_image), VM_IMAGE_DEST))
    return found


def parse_options(argv: Sequence[str], platform: str = sys.platform) -> Options:
    """The options after ``--`` on pyinstaller's command line."""
    parser = argparse.ArgumentParser(prog="pyinstaller doca.spec --")
    parser.add_argument("--programs", help="comma-separated (default: the platform's set)")
    parser.add_argument("--vm-image", type=Path, help="an unpacked VM image to bundle")
    parser.add_argument("--icon", type=Path, help="the app's icon (.icns, .ico)")
    parser.add_argument("--codesign-identity", help="macOS: the signing identity")
    parser.add_argument("--entitlements", type=Path, help="macOS: entitlements to sign with")
    args = parser.parse_args(argv)
    programs = tuple(args.programs.split(",")) if args.programs else DEFAULT_PROGRAMS[platform]
    if args.vm_image is not None and not (args.vm_image / "image.json").is_file():
        parser.error(f"{args.vm_image} is not an unpacked VM image (no image.json)")
    return Options(
        platform, programs, args.vm_image, args.icon, args.codesign_identity, args.entitlements
    )
