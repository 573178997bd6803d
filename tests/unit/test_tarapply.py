"""Tests for applying layer tars, including hostile ones."""

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from engine.snapshots.tarapply import LayerError, apply_layer

MTIME = 1_600_000_000
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown, mknod and whiteouts need root")


def _info(name: str, kind: bytes = tarfile.REGTYPE, /, **attrs: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.uid, info.gid, info.mtime = os.getuid(), os.getgid(), MTIME
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def _tar(*members: tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info, data = member if isinstance(member, tuple) else (member, b"")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def _file(name: str, data: bytes, **attrs: object) -> tuple[tarfile.TarInfo, bytes]:
    return _info(name, **attrs), data


def _dir(name: str, **attrs: object) -> tarfile.TarInfo:
    return _info(name, tarfile.DIRTYPE, **attrs)


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    return _info(name, tarfile.SYMTYPE, linkname=target, mode=0o777)


def _hardlink(name: str, target: str) -> tarfile.TarInfo:
    return _info(name, tarfile.LNKTYPE, linkname=target)


class _Pipe(io.BytesIO):
    """Stands in for a socket or pipe: the applier must read sequentially."""

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = 0) -> int:
        raise io.UnsupportedOperation("pipes cannot seek")

    def tell(self) -> int:
        raise io.UnsupportedOperation("pipes cannot tell")


def _apply(data: bytes, target: Path, **kwargs: bool) -> int:
    target.mkdir(exist_ok=True)
    return apply_layer(_Pipe(data), target, **kwargs)


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    return tmp_path / "layer"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    return path


def _supports_xattr(path: Path, attr: str) -> bool:
    probe = path / "xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, attr, b"1")
    except OSError:
        return False
    finally:
        probe.unlink()
    return True


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


# --- well-formed layers ---


@needs_root
def test_regular_file_content_and_metadata(layer: Path) -> None:
    size = _apply(_tar(_dir("etc"), _file("etc/conf", b"hello", mode=0o640, uid=12, gid=34)), layer)
    st = os.stat(layer / "etc/conf")
    assert (layer / "etc/conf").read_bytes() == b"hello"
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid, st.st_mtime) == (12, 34, MTIME)
    assert size == 5


@needs_root
def test_setuid_file_and_sticky_dir_survive(layer: Path) -> None:
    _apply(_tar(_dir("tmp", mode=0o1777), _file("bin/su", b"x", mode=0o4755, uid=0, gid=0)), layer)
    assert stat.S_IMODE(os.stat(layer / "tmp").st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(layer / "bin/su").st_mode) == 0o4755


def test_directory_mtime_and_mode_applied_after_children(layer: Path) -> None:
    _apply(_tar(_dir("ro", mode=0o555), _file("ro/child", b"x")), layer)
    st = os.stat(layer / "ro")
    assert st.st_mtime == MTIME
    assert stat.S_IMODE(st.st_mode) == 0o555


def test_missing_parents_are_created(layer: Path) -> None:
    _apply(_tar(_file("a/b/c", b"x")), layer)
    assert stat.S_IMODE(os.stat(layer / "a/b").st_mode) == 0o755
    assert (layer / "a/b/c").read_bytes() == b"x"


def test_symlink_target_kept_verbatim_and_not_followed(layer: Path) -> None:
    _apply(_tar(_symlink("link", "/etc/passwd"), _symlink("up", "../../x")), layer)
    assert os.readlink(layer / "link") == "/etc/passwd"
    assert os.readlink(layer / "up") == "../../x"
    assert os.lstat(layer / "link").st_mtime == MTIME


def test_hardlink_shares_inode_and_is_not_counted(layer: Path) -> None:
    size = _apply(_tar(_file("bin/a", b"abc"), _hardlink("bin/b", "bin/a")), layer)
    assert os.stat(layer / "bin/a").st_ino == os.stat(layer / "bin/b").st_ino
    assert size == 3


def test_size_sums_regular_files(layer: Path) -> None:
    data = _tar(_file("a", b"x" * 3), _file("b", b"y" * 5), _dir("d"), _symlink("s", "a"))
    assert _apply(data, layer) == 8


def test_large_file_is_streamed(layer: Path) -> None:
    blob = os.urandom(3 * 1024 * 1024 + 17)
    assert _apply(_tar(_file("big", blob)), layer) == len(blob)
    assert (layer / "big").read_bytes() == blob


@needs_root
def test_whiteout_becomes_char_device_0_0(layer: Path) -> None:
    _apply(_tar(_dir("etc"), _file("etc/.wh.passwd", b"")), layer, allow_devices=False)
    st = os.lstat(layer / "etc/passwd")
    assert stat.S_ISCHR(st.st_mode)
    assert st.st_rdev == os.makedev(0, 0)
    assert not (layer / "etc/.wh.passwd").exists()


def test_opaque_dir_gets_xattr(layer: Path, tmp_path: Path) -> None:
    if not _supports_xattr(tmp_path, "trusted.doca-probe"):
        pytest.skip("filesystem or privileges do not allow trusted.* xattrs")
    _apply(_tar(_dir("var"), _file("var/.wh..wh..opq", b""), _file("new/.wh..wh..opq", b"")), layer)
    assert os.getxattr(layer / "var", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(layer / "new", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(layer / "var")) == []


def test_pax_xattrs_applied_but_overlay_ones_dropped(layer: Path, tmp_path: Path) -> None:
    if not _supports_xattr(tmp_path, "trusted.doca-probe"):
        pytest.skip("filesystem or privileges do not allow trusted.* xattrs")
    info, data = _file("f", b"x")
    info.pax_headers = {
        "SCHILY.xattr.trusted.doca": "v",
        "SCHILY.xattr.trusted.overlay.redirect": "/elsewhere",
    }
    _apply(_tar((info, data)), layer)
    assert os.getxattr(layer / "f", "trusted.doca") == b"v"
    assert "trusted.overlay.redirect" not in os.listxattr(layer / "f")


def test_later_members_replace_earlier_ones(layer: Path) -> None:
    data = _tar(
        _dir("a"),
        _file("a/child", b"1"),
        _file("a", b"now a file"),
        _file("b", b"file"),
        _dir("b", mode=0o700),
        _file("c", b"old"),
        _file("c", b"new"),
        _file("d", b"file"),
        _symlink("d", "c"),
        _dir("e"),
        _file("e/kept", b"k"),
        _dir("e", mode=0o711),
    )
    _apply(data, layer)
    assert (layer / "a").read_bytes() == b"now a file"
    assert (layer / "b").is_dir()
    assert stat.S_IMODE(os.stat(layer / "b").st_mode) == 0o700
    assert (layer / "c").read_bytes() == b"new"
    assert os.readlink(layer / "d") == "c"
    assert (layer / "e/kept").read_bytes() == b"k"
    assert stat.S_IMODE(os.stat(layer / "e").st_mode) == 0o711


def test_gzip_stream(layer: Path) -> None:
    assert _apply(gzip.compress(_tar(_file("z", b"zipped"))), layer) == 6
    assert (layer / "z").read_bytes() == b"zipped"


def test_fifo_created_even_without_devices(layer: Path) -> None:
    data = _tar(_info("fifo", tarfile.FIFOTYPE), _info("null", tarfile.CHRTYPE, devmajor=1))
    _apply(data, layer, allow_devices=False)
    assert stat.S_ISFIFO(os.lstat(layer / "fifo").st_mode)
    assert not os.path.lexists(layer / "null")


@needs_root
def test_devices_created_when_allowed(layer: Path) -> None:
    _apply(_tar(_info("null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)), layer)
    st = os.lstat(layer / "null")
    assert stat.S_ISCHR(st.st_mode)
    assert st.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(st.st_mode) == 0o666


def test_dot_entries_are_skipped(layer: Path) -> None:
    _apply(_tar(_dir("."), _dir("./etc"), _file("./etc/x", b"x")), layer)
    assert (layer / "etc/x").read_bytes() == b"x"


# --- hostile layers ---


@pytest.mark.parametrize("name", ["../escape", "a/../../escape", "/../escape", ".."])
def test_dotdot_escape_rejected(layer: Path, tmp_path: Path, name: str) -> None:
    with pytest.raises(LayerError, match="escapes the layer root"):
        _apply(_tar(_file(name, b"x")), layer)
    assert not (tmp_path / "escape").exists()


def test_absolute_name_lands_inside_target(layer: Path) -> None:
    name = "/etc/doca-tarapply-test-absolute"
    _apply(_tar(_file(name, b"x")), layer)
    assert (layer / name.lstrip("/")).read_bytes() == b"x"
    assert not os.path.lexists(name)


def test_write_through_own_symlink_rejected(layer: Path, outside: Path) -> None:
    data = _tar(_symlink("evil", str(outside)), _file("evil/pwned", b"x"))
    with pytest.raises(LayerError, match="symlink"):
        _apply(data, layer)
    assert os.listdir(outside) == []


def test_write_through_symlink_to_parent_rejected(layer: Path, tmp_path: Path) -> None:
    data = _tar(_symlink("up", ".."), _dir("up/pwned"), _file("up/pwned2", b"x"))
    with pytest.raises(LayerError):
        _apply(data, layer)
    assert not os.path.lexists(tmp_path / "pwned")
    assert not os.path.lexists(tmp_path / "pwned2")


def test_whiteout_through_symlink_rejected(layer: Path, outside: Path) -> None:
    (outside / "victim").write_bytes(b"keep")
    data = _tar(_symlink("evil", str(outside)), _file("evil/.wh.victim", b""))
    with pytest.raises(LayerError):
        _apply(data, layer)
    assert (outside / "victim").read_bytes() == b"keep"


def test_members_over_a_symlink_replace_it_instead_of_following(layer: Path, outside: Path) -> None:
    (outside / "victim").write_bytes(b"keep")
    data = _tar(
        _symlink("file", str(outside / "victim")),
        _file("file", b"inside"),
        _symlink("dir", str(outside)),
        _dir("dir"),
        _file("dir/victim", b"inside"),
    )
    _apply(data, layer)
    assert (layer / "file").read_bytes() == b"inside"
    assert not (layer / "dir").is_symlink()
    assert (layer / "dir/victim").read_bytes() == b"inside"
    assert os.listdir(outside) == ["victim"]
    assert (outside / "victim").read_bytes() == b"keep"


def test_hardlink_escaping_root_rejected(layer: Path, outside: Path) -> None:
    with pytest.raises(LayerError, match="escapes the layer root"):
        _apply(_tar(_hardlink("link", "../../outside/secret")), layer)


def test_hardlink_to_absolute_outside_path_rejected(layer: Path, outside: Path) -> None:
    secret = outside / "secret"
    secret.write_bytes(b"secret")
    before = os.stat(secret)
    with pytest.raises(LayerError, match="does not exist"):
        _apply(_tar(_hardlink("link", str(secret)), _file("link", b"overwritten")), layer)
    after = os.stat(secret)
    assert secret.read_bytes() == b"secret"
    assert (after.st_nlink, after.st_mtime_ns) == (before.st_nlink, before.st_mtime_ns)


def test_hardlink_through_symlink_rejected(layer: Path, outside: Path) -> None:
    (outside / "secret").write_bytes(b"secret")
    with pytest.raises(LayerError, match="symlink"):
        _apply(_tar(_symlink("evil", str(outside)), _hardlink("link", "evil/secret")), layer)
    assert os.stat(outside / "secret").st_nlink == 1


def test_hardlink_to_directory_rejected(layer: Path) -> None:
    with pytest.raises(LayerError, match="is a directory"):
        _apply(_tar(_dir("d"), _hardlink("link", "d")), layer)


def test_overlong_and_too_deep_names_rejected(layer: Path) -> None:
    with pytest.raises(LayerError, match="4096"):
        _apply(_tar(_file("a" * 200 + "/" + "b/" * 2000 + "f", b"")), layer)
    with pytest.raises(LayerError, match="deeper"):
        _apply(_tar(_file("d/" * 300 + "f", b"")), layer)


def test_nul_in_name_rejected(layer: Path) -> None:
    info, data = _file("placeholder", b"")
    info.pax_headers = {"path": "a\x00b"}
    with pytest.raises(LayerError):
        _apply(_tar((info, data)), layer)


def test_truncated_file_data_rejected(layer: Path) -> None:
    data = _tar(_file("a", b"x" * 10_000))
    with pytest.raises(LayerError, match="invalid tar stream: unexpected end of data"):
        _apply(data[: len(data) // 2], layer)


def test_truncated_header_rejected(layer: Path) -> None:
    data = _tar(_file("a", b"x"), _file("b", b"y"))
    second_header = 2 * tarfile.BLOCKSIZE  # after a's header and its one data block
    assert data[second_header : second_header + 1] == b"b"
    with pytest.raises(LayerError, match="invalid tar stream"):
        _apply(data[: second_header + 300], layer)


@pytest.mark.parametrize("data", [b"", b"this is not a tar archive" * 100, b"\x1f\x8b\x08garbage"])
def test_garbage_rejected(layer: Path, data: bytes) -> None:
    with pytest.raises(LayerError, match="invalid tar stream"):
        _apply(data, layer)


def test_no_fd_leak_after_errors(layer: Path, outside: Path) -> None:
    before = _fd_count()
    attacks = [
        _tar(_symlink("evil", str(outside)), _file("evil/pwned", b"x")),
        _tar(_hardlink("link", "missing")),
        _tar(_file("a", b"x" * 10_000))[:3000],
    ]
    for attack in attacks:
        with pytest.raises(LayerError):
            _apply(attack, layer)
    _apply(_tar(_dir("ok"), _file("ok/f", b"x")), layer)
    assert _fd_count() == before
