"""The offline test image: a busybox rootfs built from Debian's ``busybox-static``.

Everything here is deterministic: the same busybox binary always gives the same bytes for the
rootfs tar, the layer blobs, the image config and the ``docker save`` tar, so image IDs and
diff IDs are stable across runs and machines with the same binary.

The ``docker save`` tar uses the layout dockerd 25+ writes (an OCI image layout plus the legacy
``manifest.json``), which older dockerd versions also load.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import subprocess
import tarfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

BUSYBOX = Path("/bin/busybox")

#: Timestamp used for the image config and its history ("created").
CREATED = "2024-01-01T00:00:00Z"
#: mtime of every member of the rootfs/layer tars (2024-01-01T00:00:00Z).
LAYER_MTIME = 1704067200
#: mtime of every member of the ``docker save`` tar.
SAVE_MTIME = 0

DEFAULT_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
DEFAULT_CMD = ["sh"]

MEDIA_TYPE_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_LAYER = "application/vnd.oci.image.layer.v1.tar"

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/home:/bin/false\n"
    "app:x:1000:1000::/home/app:/bin/sh\n"
)
GROUP = "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\napp:x:1000:\n"

#: (path, mode, uid, gid) of every directory in the rootfs.
ROOTFS_DIRS: tuple[tuple[str, int, int, int], ...] = (
    ("bin", 0o755, 0, 0),
    ("dev", 0o755, 0, 0),
    ("etc", 0o755, 0, 0),
    ("home", 0o755, 0, 0),
    ("home/app", 0o755, 1000, 1000),
    ("proc", 0o755, 0, 0),
    ("root", 0o700, 0, 0),
    ("run", 0o755, 0, 0),
    ("sbin", 0o755, 0, 0),
    ("sys", 0o755, 0, 0),
    ("tmp", 0o1777, 0, 0),
    ("usr", 0o755, 0, 0),
    ("usr/bin", 0o755, 0, 0),
    ("usr/sbin", 0o755, 0, 0),
    ("var", 0o755, 0, 0),
)

# Bump when the layout of anything built here changes, so cached builds are redone.
_FORMAT_VERSION = 1
_ROOTFS_NAME = "busybox-rootfs.tar"
_SAVE_NAME = "busybox-save.tar"
_META_NAME = "busybox-image.json"


@dataclass(frozen=True)
class TestImage:
    """The built test image (files on disk plus the identifiers they hash to)."""

    __test__ = False  # not a pytest test class

    rootfs_tar: Path  # plain rootfs tar (also the single layer of the image)
    save_tar: Path  # ``docker save`` format
    image_id: str  # "sha256:<hex>" = sha256 of the config JSON bytes
    diff_ids: list[str]  # ["sha256:<hex of layer tar>"]
    repo_tag: str  # "busybox:latest"


# --------------------------------------------------------------------------------------------
# Tar helpers


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _path_key(name: str) -> tuple[str, ...]:
    # Sort component-wise so that a directory always precedes its children.
    return tuple(name.strip("/").split("/"))


@dataclass(frozen=True)
class LayerEntry:
    """One member of a layer tar (see :func:`write_layer_tar`)."""

    path: str  # relative, e.g. "etc/passwd"
    kind: str  # "dir", "file", "symlink" or "hardlink"
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    data: bytes = b""  # for "file"
    target: str = ""  # for "symlink" / "hardlink"

    @classmethod
    def dir(cls, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> LayerEntry:
        return cls(path, "dir", mode, uid, gid)

    @classmethod
    def file(
        cls, path: str, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0
    ) -> LayerEntry:
        return cls(path, "file", mode, uid, gid, data=data)

    @classmethod
    def symlink(cls, path: str, target: str) -> LayerEntry:
        return cls(path, "symlink", 0o777, target=target)

    @classmethod
    def hardlink(cls, path: str, target: str) -> LayerEntry:
        return cls(path, "hardlink", 0o644, target=target)


def _tarinfo(entry: LayerEntry, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.path.strip("/"))
    info.mode = entry.mode
    info.uid = entry.uid
    info.gid = entry.gid
    info.uname = ""
    info.gname = ""
    info.mtime = mtime
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
    elif entry.kind == "file":
        info.type = tarfile.REGTYPE
        info.size = len(entry.data)
    elif entry.kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.linkname = entry.target
    elif entry.kind == "hardlink":
        info.type = tarfile.LNKTYPE
        info.linkname = entry.target.strip("/")
    else:
        raise ValueError(f"unknown layer entry kind {entry.kind!r}")
    return info


def _write_atomic(dest: Path, data_writer: Callable[[IO[bytes]], object]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            data_writer(f)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def write_layer_tar(dest: Path, entries: Iterable[LayerEntry], *, mtime: int = LAYER_MTIME) -> str:
    """Write a deterministic, uncompressed layer tar; return its diff id ("sha256:<hex>").

    Entries are sorted so that directories precede their children (a hardlink's target must
    sort before the link). Whiteouts are ordinary empty files named ``.wh.<name>`` (or
    ``.wh..wh..opq`` for an opaque directory).
    """
    ordered = sorted(entries, key=lambda e: _path_key(e.path))

    def write(f: IO[bytes]) -> None:
        with tarfile.open(fileobj=f, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for entry in ordered:
                info = _tarinfo(entry, mtime)
                tar.addfile(info, io.BytesIO(entry.data) if entry.kind == "file" else None)

    _write_atomic(dest, write)
    return "sha256:" + _sha256_file(dest)


def build_layer_tar(
    dest: Path,
    files: Mapping[str, bytes] | None = None,
    *,
    dirs: Iterable[str] = (),
    symlinks: Mapping[str, str] | None = None,
    whiteouts: Iterable[str] = (),
    opaque_dirs: Iterable[str] = (),
) -> Path:
    """Convenience wrapper around :func:`write_layer_tar` for extra test layers.

    ``files`` maps paths to contents (mode 0644); parent directories of every path are added
    automatically (mode 0755). ``whiteouts`` are paths deleted by this layer, ``opaque_dirs``
    directories whose lower contents this layer hides.
    """
    entries: dict[str, LayerEntry] = {}

    def add_parents(path: str) -> None:
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            entries.setdefault(d, LayerEntry.dir(d))

    for d in dirs:
        add_parents(d)
        entries[d.strip("/")] = LayerEntry.dir(d.strip("/"))
    for path, data in (files or {}).items():
        add_parents(path)
        entries[path.strip("/")] = LayerEntry.file(path.strip("/"), data)
    for path, target in (symlinks or {}).items():
        add_parents(path)
        entries[path.strip("/")] = LayerEntry.symlink(path.strip("/"), target)
    for path in whiteouts:
        head, _, name = path.strip("/").rpartition("/")
        wh = f"{head}/.wh.{name}" if head else f".wh.{name}"
        add_parents(wh)
        entries[wh] = LayerEntry.file(wh, b"")
    for d in opaque_dirs:
        opq = f"{d.strip('/')}/.wh..wh..opq"
        add_parents(opq)
        entries[opq] = LayerEntry.file(opq, b"")
    write_layer_tar(dest, entries.values())
    return dest


# --------------------------------------------------------------------------------------------
# Rootfs


def busybox_applets(busybox: Path = BUSYBOX) -> list[str]:
    """Install paths of every applet (``busybox --list-full``), minus busybox itself."""
    out = subprocess.run(
        [str(busybox), "--list-full"], check=True, capture_output=True, text=True
    ).stdout
    applets = set()
    for line in out.splitlines():
        path = line.strip().strip("/")
        # Skip busybox itself and top-level oddities such as "linuxrc".
        if path and "/" in path and path != "bin/busybox":
            applets.add(path)
    return sorted(applets)


def rootfs_entries(busybox: Path = BUSYBOX) -> list[LayerEntry]:
    entries = [LayerEntry.dir(path, mode, uid, gid) for path, mode, uid, gid in ROOTFS_DIRS]
    known_dirs = {path for path, *_ in ROOTFS_DIRS}
    entries.append(LayerEntry.file("bin/busybox", busybox.read_bytes(), 0o755))
    entries.append(LayerEntry.file("etc/passwd", PASSWD.encode()))
    entries.append(LayerEntry.file("etc/group", GROUP.encode()))
    for applet in busybox_applets(busybox):
        parent = applet.rpartition("/")[0]
        if parent not in known_dirs:
            raise RuntimeError(f"busybox applet {applet!r} lives outside the rootfs directories")
        entries.append(LayerEntry.symlink(applet, "/bin/busybox"))
    return entries


def build_rootfs_tar(dest: Path, *, busybox: Path = BUSYBOX) -> Path:
    """Write the busybox rootfs as a plain, deterministic tar at ``dest``."""
    write_layer_tar(dest, rootfs_entries(busybox))
    return dest


# --------------------------------------------------------------------------------------------
# docker save


def docker_arch(machine: str | None = None) -> str:
    machine = (machine or platform.machine()).lower()
    return {
        "x86_64": "amd64",
        "amd64": "amd64",
        "aarch64": "arm64",
        "arm64": "arm64",
        "armv7l": "arm",
        "i386": "386",
        "i686": "386",
        "ppc64le": "ppc64le",
        "s390x": "s390x",
        "riscv64": "riscv64",
    }.get(machine, machine)


def normalize_reference(ref: str) -> tuple[str, str]:
    """Return (full name for ``io.containerd.image.name``, tag) for a familiar reference."""
    name, tag = ref, "latest"
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}" if rest else f"docker.io/library/{name}"
    return f"{name}:{tag}", tag


def image_config(
    diff_ids: Sequence[str], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The Docker image config for the busybox image with ``diff_ids`` as its layers."""
    history: list[dict[str, Any]] = [
        {"created": CREATED, "created_by": "/bin/sh -c #(nop) ADD file:busybox-static in / "}
    ]
    for i, _ in enumerate(diff_ids[1:], start=1):
        history.append(
            {"created": CREATED, "created_by": f"/bin/sh -c #(nop) ADD file:extra-layer-{i} in / "}
        )
    history.append(
        {"created": CREATED, "created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True}
    )
    config: dict[str, Any] = {
        "architecture": docker_arch(),
        "os": "linux",
        "config": {"Env": list(DEFAULT_ENV), "Cmd": list(DEFAULT_CMD)},
        "created": CREATED,
        "history": history,
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
    }
    for key, value in (overrides or {}).items():
        if key == "config" and isinstance(value, Mapping):
            config["config"] = {**config["config"], **value}
        else:
            config[key] = value
    return config


def build_save_tar(
    dest: Path,
    rootfs_tar: Path,
    repo_tags: Sequence[str] = ("busybox:latest",),
    *,
    config_overrides: Mapping[str, Any] | None = None,
    extra_layers: Sequence[Path] | None = None,
) -> tuple[str, list[str]]:
    """Write a ``docker save`` tar at ``dest``; return (image id, diff ids).

    ``rootfs_tar`` is the first layer and ``extra_layers`` (uncompressed tars) are stacked on
    top of it in order. ``config_overrides`` are merged into the top level of the image config
    (the ``"config"`` key is merged one level deeper).
    """
    blobs: dict[str, bytes] = {}

    def add_blob(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest

    layer_digests: list[str] = []
    for layer in [rootfs_tar, *(extra_layers or [])]:
        layer_digests.append(add_blob(layer.read_bytes()))
    diff_ids = [f"sha256:{d}" for d in layer_digests]

    config_bytes = _json_bytes(image_config(diff_ids, config_overrides))
    config_digest = add_blob(config_bytes)

    oci_manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_MANIFEST,
        "config": {
            "mediaType": MEDIA_TYPE_CONFIG,
            "digest": f"sha256:{config_digest}",
            "size": len(config_bytes),
        },
        "layers": [
            {"mediaType": MEDIA_TYPE_LAYER, "digest": f"sha256:{d}", "size": len(blobs[d])}
            for d in layer_digests
        ],
    }
    manifest_bytes = _json_bytes(oci_manifest)
    manifest_digest = add_blob(manifest_bytes)

    descriptor = {
        "mediaType": MEDIA_TYPE_MANIFEST,
        "digest": f"sha256:{manifest_digest}",
        "size": len(manifest_bytes),
    }
    index_manifests: list[dict[str, Any]] = []
    for ref in repo_tags:
        full, tag = normalize_reference(ref)
        index_manifests.append(
            {
                **descriptor,
                "annotations": {
                    "io.containerd.image.name": full,
                    "org.opencontainers.image.ref.name": tag,
                },
            }
        )
    if not index_manifests:
        index_manifests.append(dict(descriptor))
    index = {"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX, "manifests": index_manifests}

    docker_manifest = [
        {
            "Config": f"blobs/sha256/{config_digest}",
            "RepoTags": list(repo_tags),
            "Layers": [f"blobs/sha256/{d}" for d in layer_digests],
        }
    ]

    members: dict[str, bytes | None] = {"blobs": None, "blobs/sha256": None}
    for digest, data in blobs.items():
        members[f"blobs/sha256/{digest}"] = data
    members["index.json"] = _json_bytes(index)
    members["manifest.json"] = _json_bytes(docker_manifest)
    members["oci-layout"] = _json_bytes({"imageLayoutVersion": "1.0.0"})

    def write(f: IO[bytes]) -> None:
        with tarfile.open(fileobj=f, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for name in sorted(members, key=_path_key):
                data = members[name]
                entry = LayerEntry.dir(name) if data is None else LayerEntry.file(name, data, 0o644)
                info = _tarinfo(entry, SAVE_MTIME)
                tar.addfile(info, io.BytesIO(data) if data is not None else None)

    _write_atomic(dest, write)
    return f"sha256:{config_digest}", diff_ids


# --------------------------------------------------------------------------------------------
# The cached test image


def build_test_image(directory: Path, *, busybox: Path = BUSYBOX) -> TestImage:
    """Build (or reuse a complete earlier build of) the test image in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    rootfs_tar = directory / _ROOTFS_NAME
    save_tar = directory / _SAVE_NAME
    meta_path = directory / _META_NAME
    repo_tag = "busybox:latest"
    busybox_digest = _sha256_file(busybox)

    try:
        meta = json.loads(meta_path.read_text())
        if (
            meta["version"] == _FORMAT_VERSION
            and meta["busybox_sha256"] == busybox_digest
            and meta["rootfs_sha256"] == _sha256_file(rootfs_tar)
            and meta["save_sha256"] == _sha256_file(save_tar)
        ):
            return TestImage(
                rootfs_tar=rootfs_tar,
                save_tar=save_tar,
                image_id=meta["image_id"],
                diff_ids=list(meta["diff_ids"]),
                repo_tag=meta["repo_tag"],
            )
    except (OSError, ValueError, KeyError, TypeError):
        pass

    build_rootfs_tar(rootfs_tar, busybox=busybox)
    image_id, diff_ids = build_save_tar(save_tar, rootfs_tar, [repo_tag])
    meta = {
        "version": _FORMAT_VERSION,
        "busybox_sha256": busybox_digest,
        "rootfs_sha256": _sha256_file(rootfs_tar),
        "save_sha256": _sha256_file(save_tar),
        "image_id": image_id,
        "diff_ids": diff_ids,
        "repo_tag": repo_tag,
    }
    _write_atomic(meta_path, lambda f: f.write(_json_bytes(meta)))
    return TestImage(
        rootfs_tar=rootfs_tar,
        save_tar=save_tar,
        image_id=image_id,
        diff_ids=diff_ids,
        repo_tag=repo_tag,
    )


def one_file_rootfs(text: str) -> bytes:
    """A rootfs tar of one file holding ``text``: an image imported from it has layers no
    other image shares."""
    data = text.encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("marker")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
