"""Which kernel modules the image keeps, read from the kernel package's ``modules.dep``.

The distribution kernel builds nearly every driver as a module; the image keeps only those its
devices and the engine need, with everything they depend on, in the order to load them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class Module:
    name: str
    path: str  # relative to /lib/modules/<version>, e.g. "kernel/fs/ext4/ext4.ko"
    depends: tuple[str, ...]  # names


def module_name(path: str) -> str:
    """The name modprobe knows a module file by: its base name, dashes as underscores."""
    name = PurePosixPath(path).name
    for suffix in (".xz", ".zst", ".gz"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".ko").replace("-", "_")


def parse_modules_dep(text: str) -> dict[str, Module]:
    """``modules.dep`` as depmod writes it: ``path: dependency-path ...`` per line."""
    modules: dict[str, Module] = {}
    for line in text.splitlines():
        path, sep, deps = line.partition(":")
        if not sep:
            continue
        name = module_name(path.strip())
        modules[name] = Module(name, path.strip(), tuple(module_name(d) for d in deps.split()))
    return modules


def parse_builtin(text: str) -> set[str]:
    """Names of the modules built into the kernel (``modules.builtin``)."""
    return {module_name(line.strip()) for line in text.splitlines() if line.strip()}


def load_order(
    modules: Mapping[str, Module], wanted: Iterable[str], builtin: Iterable[str] = ()
) -> list[str]:
    """``wanted`` and their dependencies, each after everything it needs. Built-in names are
    left out; a name that is neither a module nor built in is an error."""
    builtin = set(builtin)
    order: list[str] = []
    placed: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        name = name.replace("-", "_")
        if name in placed or name in builtin:
            return
        if name in chain:
            raise ValueError(f"module dependency cycle: {' -> '.join((*chain, name))}")
        try:
            module = modules[name]
        except KeyError:
            raise ValueError(f"the kernel has no module {name!r}") from None
        for dep in module.depends:
            visit(dep, (*chain, name))
        placed.add(name)
        order.append(name)

    for name in wanted:
        visit(name, ())
    return order


def in_dirs(modules: Mapping[str, Module], dirs: Iterable[str]) -> list[str]:
    """Names of the modules whose files lie under any of ``dirs``, sorted."""
    prefixes = tuple(d.rstrip("/") + "/" for d in dirs)
    return sorted(name for name, module in modules.items() if module.path.startswith(prefixes))
