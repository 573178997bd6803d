"""Platform matching for manifest lists, as containerd's ``platforms.Only`` does it.

A host platform accepts an ordered vector of compatible platforms (amd64 also runs 386, an
arm64 runs arm/v8 down to arm/v5); entries are normalised first so ``aarch64`` equals ``arm64``
and ``arm64/v8`` equals ``arm64``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

# arm64 variant → (majors, highest minor per major) of the variants it can run, best first.
_ARM64_VERSIONS: dict[str, tuple[tuple[int, int], ...]] = {
    **{f"v8.{minor}": ((8, minor),) for minor in range(10)},
    "v8": ((8, 0),),
    "v9": ((9, 0), (8, 5)),
    **{f"v9.{minor}": ((9, minor), (8, min(minor + 5, 9))) for minor in range(8)},
}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = field(default=())

    @classmethod
    def from_json(cls, value: Any) -> Platform | None:
        """The ``platform`` object of an index entry; None when absent or not an object."""
        if not isinstance(value, dict):
            return None
        features = value.get("os.features")
        return cls(
            os=_text(value.get("os")),
            architecture=_text(value.get("architecture")),
            variant=_text(value.get("variant")),
            os_version=_text(value.get("os.version")),
            os_features=tuple(f for f in features if isinstance(f, str))
            if isinstance(features, list)
            else (),
        )

    def format(self) -> str:
        """``linux/arm64/v8`` as dockerd prints a platform (containerd's FormatAll)."""
        if not self.os:
            return "unknown"
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def normalize(platform: Platform) -> Platform:
    os_name = (platform.os or "linux").lower()
    if os_name == "macos":
        os_name = "darwin"
    arch, variant = _normalize_arch(platform.architecture, platform.variant)
    features = tuple(sorted(set(platform.os_features)))
    return replace(platform, os=os_name, architecture=arch, variant=variant, os_features=features)


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        if variant in ("8", "v8", "v8.0"):
            variant = ""
        elif variant in ("9", "9.0", "v9.0"):
            variant = "v9"
        return "arm64", variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            variant = "v7"
        elif variant in ("5", "6", "8"):
            variant = "v" + variant
    return arch, variant


def compatible(host: Platform) -> list[Platform]:
    """The platforms ``host`` can run, most preferred first (normalised)."""
    return [normalize(p) for p in _vector(normalize(host))]


def _vector(p: Platform) -> list[Platform]:
    if p.architecture == "amd64":
        vector = [p]
        level = _version(p.variant)
        if level is not None and level > 1:
            vector += [replace(p, variant=f"v{n}") for n in range(level - 1, 0, -1)]
        return [*vector, replace(p, architecture="386", variant="")]
    if p.architecture == "arm":
        vector = [p]
        level = _version(p.variant)
        if level is not None and level > 5:
            vector += [replace(p, variant=f"v{n}") for n in range(level - 1, 4, -1)]
        return vector
    if p.architecture == "arm64":
        variant = p.variant or "v8"
        versions = _ARM64_VERSIONS.get(variant)
        if versions is None:
            return []
        vector = []
        for major, top_minor in versions:
            for minor in range(top_minor, -1, -1):
                name = f"v{major}" if minor == 0 else f"v{major}.{minor}"
                vector.append(replace(p, variant=name))
        arm_variant = "v8" if variant.startswith(("v8", "v9")) else variant
        return vector + _vector(replace(p, architecture="arm", variant=arm_variant))
    return [p]


def _version(variant: str) -> int | None:
    try:
        return int(variant.removeprefix("v"))
    except ValueError:
        return None


def matches(wanted: Platform, candidate: Platform) -> bool:
    """Whether ``candidate`` (already normalised) is exactly ``wanted``, os.features a subset."""
    return (
        wanted.os == candidate.os
        and wanted.architecture == candidate.architecture
        and wanted.variant == candidate.variant
        and (not candidate.os_version or wanted.os_version in ("", candidate.os_version))
        and set(candidate.os_features) <= set(wanted.os_features)
    )


def rank(host: Platform, candidate: Platform) -> int | None:
    """Position of ``candidate`` in ``host``'s compatibility vector, None if it cannot run."""
    normalised = normalize(candidate)
    for position, wanted in enumerate(compatible(host)):
        if matches(wanted, normalised):
            return position
    return None
