"""``docker cp`` on a plain directory standing in for a container's root: the stat header,
dockerd's naming of exported entries, and extraction that never writes outside the root."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from engine.containers import archive
from engine.containers.copy_in import CopyError
from engine.errors import InvalidParameter

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to other users needs root")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A small container root: /etc/passwd, /d/{f,sub/g,le -> /etc,hard}, /ld -> /d."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (root / "d" / "sub").mkdir(parents=True)
    (root / "d" / "f").write_text("hi\n")
    (root / "d" / "sub" / "g").write_text("g\n")
    (root / "d" / "le").symlink_to("/etc")
    os.link(root / "d" / "f", root / "d" / "hard")
    (root / "ld").symlink_to("/d")
    (root / "tmp").mkdir()
    (root / "proc").mkdir()
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the root, which must stay empty."""
    (tmp_path / "outside").mkdir()
    return tmp_path / "outside"


def _names(root: Path, path: str) -> list[str]:
    out = io.BytesIO()
    archive.export_path(root, path, out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        return tar.getnames()


def _tar(*members: tuple[str, bytes | str | None], uid: int = 0, gid: int = 0) -> io.BytesIO:
    """Members as (name, data): bytes for a file, None for a directory, "->target" a symlink,
    "=>target" a hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.uid, info.gid, info.mtime = uid, gid, 1_600_000_000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o750
            elif isinstance(data, str):
                info.type = tarfile.SYMTYPE if data.startswith("->") else tarfile.LNKTYPE
                info.linkname = data[2:]
            info.size = len(data) if isinstance(data, bytes) else 0
            tar.addfile(info, io.BytesIO(data) if isinstance(data, bytes) else None)
    buf.seek(0)
    return buf


def _extract(root: Path, path: str, *members: tuple[str, bytes | str | None], **kw: bool) -> None:
    archive.extract_to(root, path, _tar(*members), kw.get("no_overwrite", True),
                       kw.get("copy_ids", False))  # fmt: skip


def test_file_modes_are_go_file_modes() -> None:
    assert archive.go_file_mode(stat.S_IFDIR | 0o755) == (1 << 31) | 0o755
    assert archive.go_file_mode(stat.S_IFLNK | 0o777) == (1 << 27) | 0o777
    assert archive.go_file_mode(stat.S_IFREG | 0o4755) == (1 << 23) | 0o755
    assert archive.go_file_mode(stat.S_IFCHR | 0o666) == (1 << 26) | (1 << 21) | 0o666
    assert archive.go_file_mode(stat.S_IFIFO | 0o644) == (1 << 25) | 0o644
    assert archive.go_file_mode(stat.S_IFDIR | 0o1777) == (1 << 31) | (1 << 20) | 0o777


def test_stat_of_directory_file_and_link(root: Path) -> None:
    etc = archive.stat_path(root, "/etc")
    assert etc["name"] == "etc" and etc["mode"] == (1 << 31) | 0o755 and etc["linkTarget"] == ""
    assert etc["mtime"].endswith("Z") and etc["mtime"].startswith("20")
    assert archive.stat_path(root, "/etc/.")["name"] == "."
    passwd = archive.stat_path(root, "etc/passwd")
    assert passwd["size"] == 26 and passwd["mode"] == 0o644
    link = archive.stat_path(root, "/ld/le")
    assert link["mode"] & (1 << 27) and link["linkTarget"] == "/etc"
    assert archive.stat_path(root, "/ld/")["mode"] & (1 << 31)  # a trailing / follows the link


def test_stat_of_missing_paths(root: Path) -> None:
    for path in ("/nope", "/d/nope/x", "/etc/passwd/x", "/etc/passwd/"):
        with pytest.raises(archive.PathNotFound):
            archive.stat_path(root, path)


def test_clean_path_keeps_trailing_dot_and_slash() -> None:
    cases = {"etc": "/etc", "/etc/": "/etc/", "/etc/.": "/etc/.", ".": "/.", "/": "/",
             "/a/../etc": "/etc", "//etc/./": "/etc/./"}  # fmt: skip
    assert {path: archive.clean_path(path) for path in cases} == cases


def test_export_names_entries_after_the_base_name(root: Path) -> None:
    expected = ["d", "d/f", "d/hard", "d/le", "d/sub", "d/sub/g"]
    assert _names(root, "/d") == expected
    assert _names(root, "/d/") == expected
    assert _names(root, "/ld/") == ["ld", *(n.replace("d", "ld", 1) for n in expected[1:])]
    assert _names(root, "/d/.") == [".", "./f", "./hard", "./le", "./sub", "./sub/g"]
    assert _names(root, "/d/f") == ["f"]
    assert _names(root, "/ld") == ["ld"]  # the link itself
    assert "/etc/passwd" in _names(root, "/")


def test_export_keeps_links_as_links(root: Path) -> None:
    out = io.BytesIO()
    archive.export_path(root, "/d", out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members["d/le"].issym() and members["d/le"].linkname == "/etc"
        assert members["d/hard"].islnk() and members["d/hard"].linkname == "d/f"
        assert tar.extractfile("d/f").read() == b"hi\n"  # type: ignore[union-attr]


def test_export_of_missing_path(root: Path) -> None:
    with pytest.raises(archive.PathNotFound):
        archive.export_path(root, "/nope", io.BytesIO())


def test_extract_files_and_directories(root: Path) -> None:
    _extract(root, "/tmp", ("x", b"data"), ("dir", None), ("dir/y", b"y"), (".wh.z", b""))
    assert (root / "tmp" / "x").read_bytes() == b"data"
    assert (root / "tmp" / "dir" / "y").read_bytes() == b"y"
    assert stat.S_IMODE((root / "tmp" / "dir").stat().st_mode) == 0o750
    assert (root / "tmp" / ".wh.z").is_file()  # not a whiteout here


def test_extract_follows_the_destination_link_in_scope(root: Path) -> None:
    _extract(root, "/ld/sub", ("x", b"1"))
    assert (root / "d" / "sub" / "x").read_bytes() == b"1"


def test_extract_owner_is_the_engine_unless_asked(root: Path) -> None:
    _extract(root, "/tmp", ("mine", b"1"), ("theirs", b"2"))
    assert (root / "tmp" / "mine").stat().st_uid == os.geteuid()
    if os.geteuid() == 0:
        archive.extract_to(root, "/tmp", _tar(("theirs", b"2"), uid=1234, gid=5678), True, True)
        info = (root / "tmp" / "theirs").stat()
        assert (info.st_uid, info.st_gid) == (1234, 5678)


@needs_root
def test_extract_without_copy_uid_gid_ignores_tar_owners(root: Path) -> None:
    archive.extract_to(root, "/tmp", _tar(("f", b"1"), uid=1234, gid=5678), True, False)
    assert (root / "tmp" / "f").stat().st_uid == 0


def test_destination_errors(root: Path) -> None:
    with pytest.raises(archive.PathNotFound):
        _extract(root, "/nope", ("x", b""))
    with pytest.raises(InvalidParameter, match="extraction point is not a directory"):
        _extract(root, "/etc/passwd", ("x", b""))
    with pytest.raises(InvalidParameter, match="kernel filesystem"):
        _extract(root, "/proc", ("x", b""))
    with pytest.raises(InvalidParameter, match="kernel filesystem"):
        _extract(root, "/", ("proc/x", b""))
    with pytest.raises(InvalidParameter, match="read-only"):
        archive.extract_to(root, "/tmp", _tar(), True, False, read_only_root=True)


def test_dotdot_is_contained_in_the_root(root: Path, tmp_path: Path) -> None:
    # As with dockerd: the name is joined lexically and .. stops at the container's root.
    _extract(root, "/tmp", ("../../../../tmp/escaped", b"x"))
    assert (root / "tmp" / "escaped").exists()
    assert not (tmp_path / "escaped").exists()
    with pytest.raises(CopyError, match="is outside of"):
        _extract(root, "/tmp", ("../../outside/x", b"x"))


def test_symlink_escapes_are_refused(root: Path, outside: Path) -> None:
    with pytest.raises(CopyError, match="symbolic link"):
        _extract(root, "/tmp", ("evil", f"->{outside}"), ("evil/pwned", b"x"))
    with pytest.raises(CopyError, match="symbolic link"):
        _extract(root, "/tmp", ("evil/sub/pwned", b"x"))
    with pytest.raises(CopyError, match="invalid symlink"):
        _extract(root, "/tmp", ("rel", "->../../../../outside"))
    with pytest.raises(CopyError, match="invalid hardlink"):
        _extract(root, "/tmp", ("hard", "=>../etc/passwd"))
    # A destination link to the host's directory is resolved in the container's root.
    (root / "tmp" / "out").symlink_to(outside)
    with pytest.raises(archive.PathNotFound):
        _extract(root, "/tmp/out", ("pwned", b"x"))
    assert list(outside.iterdir()) == []


def test_no_overwrite_dir_non_dir(root: Path) -> None:
    with pytest.raises(CopyError, match="cannot overwrite directory"):
        _extract(root, "/", ("d", b"file"))
    with pytest.raises(CopyError, match="cannot overwrite non-directory"):
        _extract(root, "/etc", ("passwd", None))
    _extract(root, "/", ("d", b"file"), no_overwrite=False)
    assert (root / "d").read_bytes() == b"file"
    _extract(root, "/etc", ("passwd", b"new"))  # a file still replaces a file
    assert (root / "etc" / "passwd").read_bytes() == b"new"


def test_corrupt_upload(root: Path) -> None:
    with pytest.raises(CopyError, match="Error processing tar file"):
        archive.extract_to(root, "/tmp", io.BytesIO(b"garbage" * 200), True, False)


def test_a_cut_off_upload_is_refused(root: Path) -> None:
    """tarfile alone would take a damaged second header for the end of the archive."""
    data = _tar(("tmp/first", b"one"), ("tmp/second", b"two" * 2000)).getvalue()
    second_header = data.index(b"tmp/second")
    cut = data[: second_header + 100]
    with pytest.raises(CopyError, match="Error processing tar file"):
        archive.extract_to(root, "/", io.BytesIO(cut), False, False)
