"""engine.build.copier: what COPY and ADD do to a root filesystem, with real directories."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest

from engine.build.copier import (
    Ownership,
    copy_sources,
    match_sources,
    normalize_dest,
    parse_chmod,
    resolve_chown,
)
from engine.errors import InvalidParameter, NotFound
from tests.unit.build.tarmaker import Entry, make_tar

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    root = tmp_path / "context"
    for name in ["a.txt", "b.txt", "c.md", "dir/one", "dir/sub/two", "other/x.txt"]:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return root


@pytest.fixture
def image(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "data").mkdir()
    return root


def copy(ctx: Path, sources: list[str], image: Path, dest: str, workdir: str = "/",
         **kw: object) -> None:  # fmt: skip
    options: dict[str, object] = {"owner": None, "mode": None, "extract_archives": False}
    options.update(kw)
    copy_sources(ctx, sources, image, dest, workdir, **options)  # type: ignore[arg-type]


# --chmod and --chown


@pytest.mark.parametrize(("spec", "mode"), [("755", 0o755), ("0644", 0o644), ("7777", 0o7777)])
def test_parse_chmod(spec: str, mode: int) -> None:
    assert parse_chmod(spec) == mode


@pytest.mark.parametrize("spec", ["", "u+x", "0o755", "888", "17777", "-1", " 755", "+755"])
def test_parse_chmod_refuses_what_is_not_octal(spec: str) -> None:
    with pytest.raises(InvalidParameter, match="it should be octal string and between 0 and 07777"):
        parse_chmod(spec)


@pytest.fixture
def users(image: Path) -> Path:
    (image / "etc").mkdir()
    (image / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n\nweb:x:33:33::/:\n"
    )
    (image / "etc" / "group").write_text("root:x:0:\napp:x:1000:\nstaff:x:50:app\n")
    return image


@pytest.mark.parametrize(
    ("spec", "uid", "gid"),
    [
        ("1000", 1000, 1000),  # one number is both
        ("12:34", 12, 34),
        ("app", 1000, 1000),  # a name alone is a user and a group of that name
        ("app:staff", 1000, 50),
        ("0:staff", 0, 50),
        ("app:7", 1000, 7),
    ],
)
def test_resolve_chown(users: Path, spec: str, uid: int, gid: int) -> None:
    assert resolve_chown(spec, users) == Ownership(uid, gid)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nobody", "can't find uid for user nobody: no such user: nobody"),
        ("web", "can't find gid for group web: no such group: web"),  # no group named web
        ("app:nogroup", "can't find gid for group nogroup: no such group: nogroup"),
        (":staff", "can't find uid for user : no such user: "),
        ("a:b:c", "invalid chown string format: a:b:c"),
        ("-1", "uids and gids must be in range 0-2147483647"),
    ],
)
def test_resolve_chown_errors_are_worded_as_dockerd(users: Path, spec: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        resolve_chown(spec, users)
    assert err.value.message == (
        f"unable to convert uid/gid chown string to host mapping: {message}"
    )


def test_resolve_chown_reads_the_images_files_not_the_hosts(tmp_path: Path, image: Path) -> None:
    host_etc = tmp_path / "host-etc"  # stands for the host's /etc
    host_etc.mkdir()
    (host_etc / "passwd").write_text("root:x:99:99::/:\n")
    (host_etc / "group").write_text("root:x:99:\n")
    (image / "etc").symlink_to(host_etc)  # absolute: taken from the image's root
    with pytest.raises(InvalidParameter, match="open /etc/passwd: no such file or directory"):
        resolve_chown("root", image)
    (image / "etc").unlink()
    (image / "etc").symlink_to("/etc")  # a loop inside the image, never the host's /etc
    with pytest.raises(InvalidParameter, match="can't resolve /etc/passwd path in container"):
        resolve_chown("root", image)
    (image / "real-etc").mkdir()
    (image / "real-etc" / "passwd").write_text("root:x:7:7::/:\n")
    (image / "real-etc" / "group").write_text("root:x:8:\n")
    (image / "etc").unlink()
    (image / "etc").symlink_to("/real-etc")
    assert resolve_chown("root", image) == Ownership(7, 8)


# sources


def test_match_sources_literal_and_wildcards(ctx: Path) -> None:
    assert match_sources(ctx, ["a.txt"]) == ["a.txt"]
    assert match_sources(ctx, ["/a.txt", "./b.txt", "dir/"]) == ["a.txt", "b.txt", "dir"]
    assert match_sources(ctx, ["*.txt"]) == ["a.txt", "b.txt"]
    assert match_sources(ctx, ["*/*.txt", "[ab].txt"]) == ["other/x.txt", "a.txt", "b.txt"]
    assert match_sources(ctx, ["dir/*"]) == ["dir/one", "dir/sub"]
    assert match_sources(ctx, ["*.txt", "a.txt", "a?txt"]) == ["a.txt", "b.txt"]  # each once
    assert match_sources(ctx, ["."]) == ["."]


def test_match_sources_escaped_wildcards(ctx: Path) -> None:
    (ctx / "star*").write_text("")
    (ctx / "starry").write_text("")
    assert match_sources(ctx, ["star[*]"]) == ["star*"]
    # as in dockerd, an escaped wildcard makes no pattern, and the backslash stays in the name
    with pytest.raises(NotFound, match=r"stat star\\\*: file does not exist"):
        match_sources(ctx, ["star\\*"])


def test_a_missing_source_is_worded_as_dockerd(ctx: Path) -> None:
    with pytest.raises(NotFound) as err:
        match_sources(ctx, ["a.txt", "/nope.txt"])
    assert err.value.message == (
        "COPY failed: file not found in build context or excluded by .dockerignore: "
        "stat nope.txt: file does not exist"
    )
    with pytest.raises(NotFound) as err:
        match_sources(ctx, ["nope"], instruction="ADD", in_context=False)
    assert err.value.message == "ADD failed: stat nope: file does not exist"


def test_wildcards_matching_nothing(ctx: Path) -> None:
    assert match_sources(ctx, ["*.none", "a.txt"]) == ["a.txt"]
    with pytest.raises(InvalidParameter, match="COPY failed: no source files were specified"):
        match_sources(ctx, ["*.none", "[z]*"])


def test_sources_never_escape_the_context(tmp_path: Path, ctx: Path) -> None:
    (tmp_path / "secret").write_text("host")
    with pytest.raises(InvalidParameter, match="forbidden path outside the build context"):
        match_sources(ctx, ["../secret"])
    (ctx / "up").symlink_to("../../secret")
    (ctx / "abs").symlink_to(tmp_path / "secret")
    for link in ("up", "abs"):  # followed within the context, where there is no such file
        with pytest.raises(NotFound):
            match_sources(ctx, [link])


def test_normalize_dest() -> None:
    assert normalize_dest("/app", "sub") == "/app/sub"
    assert normalize_dest("/app", "sub/") == "/app/sub/"
    assert normalize_dest("/app", ".") == "/app/"
    assert normalize_dest("/", ".") == "/"
    assert normalize_dest("/app", "/abs") == "/abs"
    assert normalize_dest("", "x") == "/x"


# copying files


def test_a_file_lands_in_a_directory_or_as_the_destination(ctx: Path, image: Path) -> None:
    copy(ctx, ["a.txt"], image, "/data/")
    copy(ctx, ["a.txt"], image, "/data")  # an existing directory
    copy(ctx, ["b.txt"], image, "/new/name.txt")
    copy(ctx, ["b.txt"], image, "rel", workdir="/usr")
    copy(ctx, ["c.md"], image, ".", workdir="/w")
    assert (image / "data" / "a.txt").read_text() == "a.txt"
    assert (image / "new" / "name.txt").read_text() == "b.txt"
    assert (image / "usr" / "rel").read_text() == "b.txt"
    assert (image / "w" / "c.md").read_text() == "c.md"


def test_a_file_keeps_its_mode_and_mtime(ctx: Path, image: Path) -> None:
    os.chmod(ctx / "a.txt", 0o751)
    os.utime(ctx / "a.txt", (1_000_000, 1_000_000))
    copy(ctx, ["a.txt"], image, "/data/")
    info = os.stat(image / "data" / "a.txt")
    assert stat.S_IMODE(info.st_mode) == 0o751
    assert info.st_mtime == 1_000_000


def test_several_sources_need_a_directory(ctx: Path, image: Path) -> None:
    with pytest.raises(InvalidParameter) as err:
        copy(ctx, ["a.txt", "b.txt"], image, "/data")
    assert err.value.message == (
        "When using COPY with more than one source file, "
        "the destination must be a directory and end with a /"
    )
    with pytest.raises(InvalidParameter, match="When using ADD"):
        copy(ctx, ["a.txt", "b.txt"], image, "/data", extract_archives=True)
    copy(ctx, ["a.txt", "b.txt"], image, "/multi/")
    copy(ctx, ["a.txt", "b.txt"], image, "/dot/.")
    assert sorted(os.listdir(image / "multi")) == ["a.txt", "b.txt"]
    assert sorted(os.listdir(image / "dot")) == ["a.txt", "b.txt"]


def test_a_directory_copies_its_contents_and_merges(ctx: Path, image: Path) -> None:
    (image / "data" / "existing").write_text("kept")
    (image / "data" / "one").mkdir()  # a directory where a file comes: replaced, as in dockerd
    copy(ctx, ["dir"], image, "/data")
    assert (image / "data" / "existing").read_text() == "kept"
    assert (image / "data" / "one").read_text() == "dir/one"
    assert (image / "data" / "sub" / "two").read_text() == "dir/sub/two"
    assert not (image / "data" / "dir").exists()


def test_a_directory_onto_a_file_is_an_error(ctx: Path, image: Path) -> None:
    (image / "data" / "file").write_text("")
    with pytest.raises(InvalidParameter, match="not a directory"):
        copy(ctx, ["dir"], image, "/data/file")
    with pytest.raises(InvalidParameter, match="not a directory"):
        copy(ctx, ["a.txt"], image, "/data/file/below")


def test_an_existing_file_is_replaced(ctx: Path, image: Path) -> None:
    (image / "data" / "a.txt").write_text("old")
    os.chmod(image / "data" / "a.txt", 0o600)
    copy(ctx, ["a.txt"], image, "/data/")
    assert (image / "data" / "a.txt").read_text() == "a.txt"
    assert stat.S_IMODE(os.stat(image / "data" / "a.txt").st_mode) == 0o644


def test_symlinks_inside_a_source_are_copied_as_symlinks(ctx: Path, image: Path) -> None:
    (ctx / "dir" / "abs").symlink_to("/etc/passwd")
    (ctx / "dir" / "rel").symlink_to("one")
    copy(ctx, ["dir"], image, "/d")
    assert os.readlink(image / "d" / "abs") == "/etc/passwd"
    assert os.readlink(image / "d" / "rel") == "one"


def test_a_named_symlink_source_is_followed_within_the_context(ctx: Path, image: Path) -> None:
    (ctx / "link").symlink_to("a.txt")
    (ctx / "dirlink").symlink_to("/dir")  # absolute: from the context's root
    copy(ctx, ["link", "dirlink"], image, "/data/")
    assert not (image / "data" / "link").is_symlink()
    assert (image / "data" / "link").read_text() == "a.txt"
    assert (image / "data" / "one").read_text() == "dir/one"


def test_hardlinks_in_a_directory_stay_hardlinks(ctx: Path, image: Path) -> None:
    os.link(ctx / "dir" / "one", ctx / "dir" / "sub" / "also-one")
    copy(ctx, ["dir"], image, "/d")
    assert os.stat(image / "d" / "one").st_ino == os.stat(image / "d" / "sub" / "also-one").st_ino


def test_mode_applies_to_everything_but_symlinks(ctx: Path, image: Path) -> None:
    (ctx / "dir" / "rel").symlink_to("one")
    copy(ctx, ["dir"], image, "/d", mode=0o700)
    copy(ctx, ["a.txt"], image, "/f", mode=0o640)
    for path in ("d", "d/one", "d/sub", "d/sub/two"):
        assert stat.S_IMODE(os.stat(image / path).st_mode) == 0o700, path
    assert stat.S_IMODE(os.stat(image / "f").st_mode) == 0o640
    assert os.readlink(image / "d" / "rel") == "one"


# ownership


@as_root
def test_copies_belong_to_root_by_default(ctx: Path, image: Path) -> None:
    for source in (ctx / "a.txt", ctx / "dir", ctx / "dir" / "one"):
        os.chown(source, 1234, 1234)
    (ctx / "dir" / "ln").symlink_to("one")
    os.lchown(ctx / "dir" / "ln", 1234, 1234)
    copy(ctx, ["a.txt", "dir"], image, "/data/")
    for path in ("data/a.txt", "data/one", "data/ln", "data/sub/two"):
        info = os.lstat(image / path)
        assert (info.st_uid, info.st_gid) == (0, 0), path


@as_root
def test_chown_owns_the_copy_and_new_directories_as_dockerd(ctx: Path, image: Path) -> None:
    os.chown(image / "data", 5, 5)
    owner = Ownership(1000, 2000)
    copy(ctx, ["dir"], image, "/data", owner=owner)  # existing directory: left alone
    copy(ctx, ["dir"], image, "/new/parent/target", owner=owner)
    copy(ctx, ["a.txt"], image, "/made/for/file.txt", owner=owner)

    def ids(path: str) -> tuple[int, int]:
        info = os.lstat(image / path)
        return info.st_uid, info.st_gid

    assert ids("data") == (5, 5)
    assert ids("data/one") == ids("data/sub") == ids("data/sub/two") == (1000, 2000)
    assert ids("new") == ids("new/parent") == (0, 0)  # a directory copy's new parents: root
    assert ids("new/parent/target") == ids("new/parent/target/sub/two") == (1000, 2000)
    assert ids("made") == ids("made/for") == ids("made/for/file.txt") == (1000, 2000)


@as_root
def test_preserve_ownership_keeps_the_sources_owners(ctx: Path, image: Path) -> None:
    os.chown(ctx / "dir" / "one", 42, 43)
    copy(ctx, ["dir"], image, "/d", preserve_ownership=True)
    info = os.stat(image / "d" / "one")
    assert (info.st_uid, info.st_gid) == (42, 43)
    copy(ctx, ["dir"], image, "/e", preserve_ownership=True, owner=Ownership(7, 7))
    assert os.stat(image / "e" / "one").st_uid == 7  # --chown wins


# the destination stays inside the image


def test_an_images_etc_link_to_etc_does_not_reach_the_hosts_etc(ctx: Path, image: Path) -> None:
    name = f"doca-copier-test-{uuid.uuid4().hex}"
    (ctx / name).write_text("inside")
    (image / "etc").symlink_to("/etc")  # inside the image this is a loop, as in dockerd
    try:
        for source, dest in ((name, "/etc/"), ("dir", f"/etc/{name}-dir")):
            with pytest.raises(InvalidParameter, match="too many levels of symbolic links"):
                copy(ctx, [source], image, dest)
    finally:
        leaked = [p for p in (Path("/etc") / name, Path("/etc") / f"{name}-dir") if p.exists()]
        for path in leaked:
            path.unlink() if path.is_file() else os.rmdir(path)
    assert leaked == []
    assert os.readlink(image / "etc") == "/etc"
    (image / "etc").unlink()
    (image / "etc").symlink_to("usr/bin")
    copy(ctx, [name], image, "/etc/")
    assert (image / "usr" / "bin" / name).read_text() == "inside"


def test_destination_links_are_followed_inside_the_image(
    tmp_path: Path, ctx: Path, image: Path
) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (image / "abs").symlink_to(host)  # an absolute target that exists on the host
    (image / "up").symlink_to("../../../../../../..")
    copy(ctx, ["a.txt"], image, "/abs/")
    copy(ctx, ["dir"], image, "/up/escaped")
    assert list(host.iterdir()) == []
    assert (image / str(host).lstrip("/") / "a.txt").read_text() == "a.txt"
    assert (image / "escaped" / "one").read_text() == "dir/one"
    assert not (tmp_path / "escaped").exists()


def test_a_symlink_in_the_image_is_replaced_by_a_copied_directory(
    tmp_path: Path, ctx: Path, image: Path
) -> None:
    # dockerd's classic builder does this (moby#41035); below the destination nothing is
    # followed, so a link in the image can never redirect the copy
    outside = tmp_path / "outside"
    outside.mkdir()
    (image / "data" / "sub").symlink_to(outside)
    copy(ctx, ["dir"], image, "/data")
    assert not (image / "data" / "sub").is_symlink()
    assert (image / "data" / "sub" / "two").read_text() == "dir/sub/two"
    assert list(outside.iterdir()) == []


# ADD


@pytest.mark.parametrize("compression", ["", "gzip", "bzip2", "xz", "zstd"])
def test_add_unpacks_local_archives(ctx: Path, image: Path, compression: str) -> None:
    archive = make_tar(
        [Entry("pkg", "dir", mode=0o750), Entry("pkg/bin", data=b"elf", mode=0o755, uid=7, gid=8)],
        compression,
    )
    (ctx / "pkg.tar.whatever").write_bytes(archive)
    copy(ctx, ["pkg.tar.whatever"], image, "/opt", extract_archives=True)
    assert (image / "opt" / "pkg" / "bin").read_bytes() == b"elf"
    assert stat.S_IMODE(os.stat(image / "opt" / "pkg").st_mode) == 0o750
    if os.geteuid() == 0:
        info = os.stat(image / "opt" / "pkg" / "bin")
        assert (info.st_uid, info.st_gid) == (7, 8)  # the tar's owners, as dockerd keeps them


def test_add_copies_what_is_not_an_archive(ctx: Path, image: Path) -> None:
    (ctx / "fake.tar.gz").write_bytes(b"\x1f\x8b\x08 not really gzip")
    (ctx / "empty.tar").write_bytes(b"")
    copy(ctx, ["fake.tar.gz", "empty.tar", "a.txt"], image, "/opt/", extract_archives=True)
    assert sorted(os.listdir(image / "opt")) == ["a.txt", "empty.tar", "fake.tar.gz"]


def test_copy_never_unpacks(ctx: Path, image: Path) -> None:
    (ctx / "x.tar").write_bytes(make_tar([Entry("inner", data=b"1")]))
    copy(ctx, ["x.tar"], image, "/opt/")
    assert os.listdir(image / "opt") == ["x.tar"]


def test_add_refuses_hostile_archives(tmp_path: Path, ctx: Path, image: Path) -> None:
    (ctx / "evil.tar").write_bytes(make_tar([Entry("../../../escape", data=b"x")]))
    with pytest.raises(InvalidParameter, match="invalid entry name"):
        copy(ctx, ["evil.tar"], image, "/opt", extract_archives=True)
    (ctx / "link.tar").write_bytes(
        make_tar([Entry("l", "symlink", linkname=str(tmp_path)), Entry("l/planted", data=b"x")])
    )
    copy(ctx, ["link.tar"], image, "/opt2", extract_archives=True)
    assert not (tmp_path / "planted").exists()
    assert (image / "opt2" / str(tmp_path).lstrip("/") / "planted").exists()


def test_add_into_a_file_is_an_error(ctx: Path, image: Path) -> None:
    (ctx / "x.tar").write_bytes(make_tar([Entry("inner", data=b"1")]))
    (image / "data" / "file").write_text("")
    with pytest.raises(InvalidParameter, match="not a directory"):
        copy(ctx, ["x.tar"], image, "/data/file", extract_archives=True)
