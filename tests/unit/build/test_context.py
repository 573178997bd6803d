"""engine.build.context: unpacking the build context safely, .dockerignore, source checksums."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from engine.build.context import apply_dockerignore, checksum, drop_build_files, extract_context
from engine.errors import InvalidParameter, NotFound
from tests.unit.build.tarmaker import Entry, make_tar


def _extract(data: bytes, dest: Path) -> None:
    extract_context(io.BytesIO(data), dest)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "context"


@pytest.mark.parametrize("compression", ["", "gzip", "bzip2", "xz", "zstd"])
def test_extracts_plain_and_compressed_tars(dest: Path, compression: str) -> None:
    tar = make_tar(
        [
            Entry("app", "dir", mode=0o750, mtime=1_000_000_000),
            Entry("app/run.sh", data=b"#!/bin/sh\n", mode=0o4755, mtime=1_200_000_000),
            Entry("Dockerfile", data=b"FROM scratch\n"),
            Entry("app/link", "symlink", linkname="run.sh"),
        ],
        compression,
    )
    _extract(tar, dest)
    assert (dest / "app" / "run.sh").read_bytes() == b"#!/bin/sh\n"
    info = os.stat(dest / "app" / "run.sh")
    assert stat.S_IMODE(info.st_mode) == 0o4755
    assert info.st_mtime == 1_200_000_000
    app = os.stat(dest / "app")
    assert stat.S_IMODE(app.st_mode) == 0o750
    assert app.st_mtime == 1_000_000_000  # set after its children were written
    assert os.readlink(dest / "app" / "link") == "run.sh"
    assert (dest / "Dockerfile").read_text() == "FROM scratch\n"


def test_an_empty_stream_is_an_empty_context(dest: Path) -> None:
    _extract(b"", dest)
    assert list(dest.iterdir()) == []


def test_missing_parents_are_made(dest: Path) -> None:
    _extract(make_tar([Entry("a/b/c.txt", data=b"x")]), dest)
    assert (dest / "a" / "b" / "c.txt").read_bytes() == b"x"
    assert stat.S_IMODE(os.stat(dest / "a").st_mode) == 0o755


def test_absolute_names_are_taken_from_the_context_root(dest: Path) -> None:
    _extract(make_tar([Entry("/etc/abs.txt", data=b"inside")]), dest)
    assert (dest / "etc" / "abs.txt").read_bytes() == b"inside"


@pytest.mark.parametrize("name", ["../escape.txt", "a/../../escape.txt", "/../escape.txt"])
def test_names_climbing_out_are_refused(tmp_path: Path, dest: Path, name: str) -> None:
    with pytest.raises(InvalidParameter, match="invalid entry name"):
        _extract(make_tar([Entry(name, data=b"x")]), dest)
    assert not (tmp_path / "escape.txt").exists()


def test_no_entry_is_written_through_a_symlink_leading_out(tmp_path: Path, dest: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    tar = make_tar(
        [
            Entry("abs", "symlink", linkname=str(outside)),
            Entry("abs/planted.txt", data=b"x"),
            Entry("rel", "symlink", linkname="../outside"),
            Entry("rel/planted2.txt", data=b"x"),
        ]
    )
    _extract(tar, dest)
    assert list(outside.iterdir()) == []
    # the links are resolved as if the context were "/": their targets land inside it
    assert (dest / str(outside).lstrip("/") / "planted.txt").read_bytes() == b"x"
    assert (dest / "outside" / "planted2.txt").read_bytes() == b"x"


def test_a_member_replaces_a_symlink_instead_of_following_it(tmp_path: Path, dest: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    tar = make_tar([Entry("evil", "symlink", linkname=str(victim)), Entry("evil", data=b"new")])
    _extract(tar, dest)
    assert victim.read_text() == "original"
    assert not (dest / "evil").is_symlink()
    assert (dest / "evil").read_bytes() == b"new"


def test_hardlinks_stay_inside(tmp_path: Path, dest: Path) -> None:
    (tmp_path / "secret").write_text("host")
    with pytest.raises(InvalidParameter, match="invalid hardlink target"):
        _extract(make_tar([Entry("h", "hardlink", linkname="../secret")]), dest)
    _extract(make_tar([Entry("f", data=b"data"), Entry("h", "hardlink", linkname="/f")]), dest)
    assert os.stat(dest / "h").st_ino == os.stat(dest / "f").st_ino


def test_device_nodes_are_skipped_and_fifos_kept(dest: Path) -> None:
    _extract(make_tar([Entry("null", "char"), Entry("pipe", "fifo", mode=0o600)]), dest)
    assert not (dest / "null").exists()
    assert stat.S_ISFIFO(os.lstat(dest / "pipe").st_mode)


def test_later_members_replace_earlier_ones_and_directories_merge(dest: Path) -> None:
    tar = make_tar(
        [
            Entry("d", "dir"),
            Entry("d/old", data=b"1"),
            Entry("d", "dir", mode=0o700),
            Entry("x", "dir"),
            Entry("x/inner", data=b"2"),
            Entry("x", data=b"now a file"),
        ]
    )
    _extract(tar, dest)
    assert (dest / "d" / "old").read_bytes() == b"1"
    assert stat.S_IMODE(os.stat(dest / "d").st_mode) == 0o700
    assert (dest / "x").read_bytes() == b"now a file"


def test_a_directory_replaced_by_a_link_is_resolved_again(dest: Path) -> None:
    tar = make_tar(
        [
            Entry("a", "dir"),
            Entry("a/x", data=b"1"),
            Entry("b", "dir"),
            Entry("a", "symlink", linkname="b"),  # replaces the directory a
            Entry("a/y", data=b"2"),  # so this one goes through the link, into b
        ]
    )
    _extract(tar, dest)
    assert os.readlink(dest / "a") == "b"
    assert (dest / "b" / "y").read_bytes() == b"2"
    assert sorted(os.listdir(dest)) == ["a", "b"]


@pytest.mark.parametrize("data", [b"this is not a tar archive" * 40, b"short"])
def test_garbage_is_refused(dest: Path, data: bytes) -> None:
    with pytest.raises(InvalidParameter, match="Error processing tar file"):
        _extract(data, dest)


@pytest.mark.parametrize("compression", ["", "gzip"])
def test_a_truncated_tar_is_refused(dest: Path, compression: str) -> None:
    whole = make_tar([Entry("big", data=os.urandom(5000)), Entry("after", data=b"x")], compression)
    with pytest.raises(InvalidParameter, match="Error processing tar file"):
        _extract(whole[: len(whole) // 2], dest)


# .dockerignore


def _tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_no_dockerignore_keeps_everything(tmp_path: Path) -> None:
    _tree(tmp_path, ["Dockerfile", "a/b"])
    assert apply_dockerignore(tmp_path, "Dockerfile") is None
    assert _files(tmp_path) == {"Dockerfile", "a/b"}


def test_dockerignore_deletes_excluded_files_and_directories(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        ["Dockerfile", "main.go", "README.md", "CHANGES.md", "node_modules/x/y.js",
         "docs/a.md", "docs/keep.txt", "src/app.py", "src/app.pyc", "tempa"],
    )  # fmt: skip
    (tmp_path / ".dockerignore").write_text(
        "# build output\nnode_modules\n*.md\n!README.md\n**/*.pyc\ndocs\n!docs/keep.txt\ntemp?\n"
    )
    matcher = apply_dockerignore(tmp_path, "Dockerfile")
    assert matcher is not None
    assert _files(tmp_path) == {
        ".dockerignore",
        "Dockerfile",
        "main.go",
        "README.md",
        "docs/keep.txt",
        "src/app.py",
    }
    assert not (tmp_path / "node_modules").exists()


def test_the_dockerfile_and_dockerignore_stay_until_read(tmp_path: Path) -> None:
    _tree(tmp_path, ["build/Dockerfile.dev", "build/other", "x"])
    (tmp_path / ".dockerignore").write_text(".dockerignore\nbuild\n")
    matcher = apply_dockerignore(tmp_path, "./build/Dockerfile.dev")
    assert _files(tmp_path) == {".dockerignore", "build/Dockerfile.dev", "x"}
    drop_build_files(tmp_path, "./build/Dockerfile.dev", matcher)
    assert _files(tmp_path) == {"x"}


def test_drop_build_files_keeps_what_is_not_excluded(tmp_path: Path) -> None:
    _tree(tmp_path, ["Dockerfile"])
    (tmp_path / ".dockerignore").write_text("*.tmp\n")
    matcher = apply_dockerignore(tmp_path, "Dockerfile")
    drop_build_files(tmp_path, "Dockerfile", matcher)
    drop_build_files(tmp_path, "Dockerfile", None)
    assert _files(tmp_path) == {".dockerignore", "Dockerfile"}


def test_drop_build_files_never_follows_a_link_out(tmp_path: Path) -> None:
    context, outside = tmp_path / "context", tmp_path / "outside"
    _tree(outside, ["Dockerfile"])
    context.mkdir()
    (context / "link").symlink_to(outside)
    (context / ".dockerignore").write_text("link\n")
    matcher = apply_dockerignore(context, "link/Dockerfile")
    drop_build_files(context, "link/Dockerfile", matcher)
    assert (outside / "Dockerfile").exists()


def test_symlinks_are_deleted_not_followed(tmp_path: Path) -> None:
    context, outside = tmp_path / "context", tmp_path / "outside"
    _tree(outside, ["keep/me"])
    context.mkdir()
    (context / "link").symlink_to(outside / "keep")
    (context / ".dockerignore").write_text("link\n")
    apply_dockerignore(context, "Dockerfile")
    assert not (context / "link").is_symlink()
    assert (outside / "keep" / "me").exists()


def test_a_bad_dockerignore_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("[\n")
    with pytest.raises(InvalidParameter, match="syntax error in pattern"):
        apply_dockerignore(tmp_path, "Dockerfile")
    (tmp_path / ".dockerignore").unlink()
    (tmp_path / ".dockerignore").mkdir()
    with pytest.raises(InvalidParameter, match=r"error reading \.dockerignore"):
        apply_dockerignore(tmp_path, "Dockerfile")


# checksum


def test_checksum_ignores_mtimes_and_owners(tmp_path: Path) -> None:
    _tree(tmp_path, ["dir/a", "dir/sub/b"])
    before = checksum(tmp_path, ["dir"])
    assert before.startswith("sha256:") and len(before) == 71
    os.utime(tmp_path / "dir" / "a", (1, 1))
    if os.geteuid() == 0:
        os.chown(tmp_path / "dir" / "sub" / "b", 1234, 1234)
    assert checksum(tmp_path, ["dir"]) == before


@pytest.mark.parametrize("change", ["content", "mode", "rename", "add", "link"])
def test_checksum_follows_what_copy_would_copy(tmp_path: Path, change: str) -> None:
    _tree(tmp_path, ["dir/a", "dir/b"])
    (tmp_path / "dir" / "ln").symlink_to("a")
    before = checksum(tmp_path, ["dir"])
    if change == "content":
        (tmp_path / "dir" / "a").write_text("changed")
    elif change == "mode":
        os.chmod(tmp_path / "dir" / "a", 0o600)
    elif change == "rename":
        (tmp_path / "dir" / "b").rename(tmp_path / "dir" / "c")
    elif change == "add":
        (tmp_path / "dir" / "new").write_text("")
    else:
        (tmp_path / "dir" / "ln").unlink()
        (tmp_path / "dir" / "ln").symlink_to("b")
    assert checksum(tmp_path, ["dir"]) != before


def test_checksum_of_a_named_symlink_hashes_its_target(tmp_path: Path) -> None:
    _tree(tmp_path, ["real/file"])
    (tmp_path / "link").symlink_to("real")
    before = checksum(tmp_path, ["link"])
    (tmp_path / "real" / "file").write_text("changed")
    assert checksum(tmp_path, ["link"]) != before


def test_checksum_depends_on_the_names_and_their_order(tmp_path: Path) -> None:
    _tree(tmp_path, ["a", "b"])
    (tmp_path / "b").write_text("a")  # same content as a
    assert checksum(tmp_path, ["a"]) != checksum(tmp_path, ["b"])
    assert checksum(tmp_path, ["a", "b"]) != checksum(tmp_path, ["b", "a"])
    assert checksum(tmp_path, ["a"]) == checksum(tmp_path, ["/a"])


def test_checksum_of_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="stat nope: file does not exist"):
        checksum(tmp_path, ["nope"])
