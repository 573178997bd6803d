"""The remapping while the engine runs: which containers get a user namespace, what they may
not combine it with, and the mounts that make their files show with the right owners."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.errors import InvalidParameter
from engine.userns.idmap import IdentityMapping
from engine.userns.namespace import MappedNamespace
from engine.userns.overlay import mount_idmapped_overlay
from engine.userns.remap import resolve_remap


def check_userns_conflicts(host: Mapping[str, Any]) -> None:
    """What dockerd's verifyPlatformContainerSettings refuses in a user namespace."""
    if host.get("Privileged"):
        raise InvalidParameter(
            "privileged mode is incompatible with user namespaces.  You must run the "
            "container in the host namespace when running privileged mode"
        )
    if (host.get("NetworkMode") or "") == "host":
        raise InvalidParameter(
            "cannot share the host's network namespace when user namespaces are enabled"
        )
    if (host.get("PidMode") or "") == "host":
        raise InvalidParameter(
            "cannot share the host PID namespace when user namespaces are enabled"
        )


class RemappedRoot:
    """``--userns-remap`` in effect: its mapping, and the user namespace that idmaps the
    image layers and upper directories of the containers it applies to."""

    def __init__(self, mapping: IdentityMapping) -> None:
        self.mapping = mapping
        self._namespace = MappedNamespace(mapping)

    @classmethod
    def load(cls, spec: str) -> RemappedRoot | None:
        """The remapping ``spec`` names (as resolved by the configuration), or None."""
        remap = resolve_remap(spec)
        return cls(remap.mapping) if remap else None

    @property
    def root_pair(self) -> tuple[int, int]:
        return self.mapping.root_pair

    def container_mapping(self, host: Mapping[str, Any]) -> IdentityMapping | None:
        """The mapping of a container with HostConfig ``host``, or None for ``--userns=host``
        (dockerd's only other UsernsMode); refuses what a user namespace cannot have."""
        if (host.get("UsernsMode") or "") == "host":
            return None
        check_userns_conflicts(host)
        return self.mapping

    def mount_rootfs(
        self, lowerdirs: Sequence[Path], upper: Path, work: Path, target: Path
    ) -> None:
        """The container's root at ``target``, layers idmapped (blocking)."""
        mount_idmapped_overlay(
            lowerdirs, upper, work, target, self._namespace.fd(), self.mapping.root_pair
        )

    def close(self) -> None:
        self._namespace.close()
