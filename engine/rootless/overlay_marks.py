"""Where overlayfs keeps its own marks (opaque directories, redirects): ``trusted.overlay.*``
xattrs for a root engine, ``user.overlay.*`` inside a rootless engine's user namespace.

``trusted.*`` xattrs need CAP_SYS_ADMIN in the initial user namespace, which a rootless
engine never has; overlayfs mounted with ``userxattr`` (Linux 5.11+) reads and writes the
``user.*`` spelling instead. Layers unpacked and mounts made by the same engine agree.
"""

from __future__ import annotations

from engine.rootless.mark import in_namespace

TRUSTED_PREFIX = "trusted.overlay."
USER_PREFIX = "user.overlay."


def overlay_prefix() -> str:
    return USER_PREFIX if in_namespace() else TRUSTED_PREFIX


def opaque_xattr() -> str:
    """The xattr that marks a directory opaque (its lower contents hidden)."""
    return overlay_prefix() + "opaque"


def is_overlay_xattr(name: str) -> bool:
    """overlayfs trusts these (redirect, metacopy, opaque): only the engine may set them, never
    a layer or a build context, in either spelling."""
    return name.startswith((TRUSTED_PREFIX, USER_PREFIX))


def overlay_mount_options() -> str:
    """What a rootless engine's overlay mounts add to their options."""
    return ",userxattr" if in_namespace() else ""
