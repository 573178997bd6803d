"""Where overlayfs keeps its own marks (opaque directories, redirects): ``trusted.overlay.*``
xattrs for a root engine, ``user.overlay.*`` inside a rootless engine's user namespace, and
``user.fuseoverlayfs.*`` where fuse-overlayfs writes them there (it reads all three).

``trusted.*`` xattrs need CAP_SYS_ADMIN in the initial user namespace, which a rootless
engine never has; overlayfs mounted with ``userxattr`` (Linux 5.11+) reads and writes the
``user.*`` spelling instead. Layers unpacked and mounts made by the same engine agree.
"""

from __future__ import annotations

from engine.rootless.mark import in_namespace

TRUSTED_PREFIX = "trusted.overlay."
USER_PREFIX = "user.overlay."
FUSE_PREFIX = "user.fuseoverlayfs."  # fuse-overlayfs's own, where trusted.* is out of reach
#: Every spelling of the opaque mark an upper directory may carry.
OPAQUE_XATTRS = tuple(prefix + "opaque" for prefix in (TRUSTED_PREFIX, USER_PREFIX, FUSE_PREFIX))


def overlay_prefix() -> str:
    return USER_PREFIX if in_namespace() else TRUSTED_PREFIX


def opaque_xattr() -> str:
    """The xattr that marks a directory opaque (its lower contents hidden)."""
    return overlay_prefix() + "opaque"


def is_overlay_xattr(name: str) -> bool:
    """overlayfs trusts these (redirect, metacopy, opaque): only the engine may set them, never
    a layer or a build context, in either spelling."""
    return name.startswith((TRUSTED_PREFIX, USER_PREFIX, FUSE_PREFIX))


def overlay_mount_options() -> str:
    """What a rootless engine's overlay mounts add to their options."""
    return ",userxattr" if in_namespace() else ""
