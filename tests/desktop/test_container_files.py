"""Container files over the archive API, against an in-memory client: directory listings from
tar headers (caps, broken and stalled archives), safe extraction of downloads, and uploads."""

from __future__ import annotations

import asyncio
import io
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from desktop_app.state.container_files import (
    ArchiveError,
    FileEntry,
    child_path,
    clean_path,
    download,
    extract_safely,
    list_directory,
    pack,
    parent_path,
    transfer_text,
    upload,
)
from doca.client import NotFound, StreamError

Member = tuple[str, bytes, str]  # (name, type, data or link target)


def tar_of(members: list[Member]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = kind, 0o644, 1704067200
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = payload
                tar.addfile(info)
            elif kind == tarfile.DIRTYPE:
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(payload.encode())
                tar.addfile(info, io.BytesIO(payload.encode()))
    return out.getvalue()


D, F, L, H = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
ETC = tar_of([
    ("etc", D, ""), ("etc/passwd", F, "root:x:0:0\n"), ("etc/ssl", D, ""),
    ("etc/ssl/certs", D, ""), ("etc/ssl/certs/ca.pem", F, "pem"), ("etc/group", H, "etc/passwd"),
    ("etc/mtab", L, "/proc/mounts"), ("etc/hostname", F, "web\n"),
])  # fmt: skip
ROOT = tar_of([("", D, ""), ("/bin", D, ""), ("/bin/sh", L, "/bin/busybox"), ("/etc", D, "")])


class FakeArchives:
    """``containers`` of a client: archives by path, and what was put where."""

    def __init__(self) -> None:
        self.containers = self
        self.archives: dict[str, bytes] = {}
        self.fail: dict[str, Exception] = {}  # raised after the archive's bytes
        self.stall_after: int | None = None  # stop sending (but stay open) after this many bytes
        self.stats: dict[str, dict[str, Any]] = {}
        self.put: list[tuple[str, str, bytes]] = []
        self.closed = 0

    async def stat_path(self, container: str, path: str) -> dict[str, Any]:
        if path not in self.stats:
            raise NotFound(404, "Not Found")
        return self.stats[path]

    async def get_archive(self, container: str, path: str) -> AsyncIterator[bytes]:
        if path not in self.archives:
            raise NotFound(404, f"Could not find the file {path} in container {container}")
        data = self.archives[path]
        try:
            for start in range(0, len(data), 700):
                if self.stall_after is not None and start >= self.stall_after:
                    await asyncio.Event().wait()
                await asyncio.sleep(0)
                yield data[start : start + 700]
            if path in self.fail:
                raise self.fail[path]
        finally:
            self.closed += 1

    async def put_archive(self, container: str, path: str, data: AsyncIterator[bytes]) -> None:
        body = b"".join([chunk async for chunk in data])
        self.put.append((container, path, body))


def test_paths() -> None:
    assert clean_path("etc/../var//log/") == "/var/log"
    assert clean_path("//etc") == "/etc" and clean_path("") == "/"
    assert parent_path("/etc/ssl") == "/etc" and parent_path("/") == "/"
    assert child_path("/", "etc") == "/etc" and child_path("/etc", "..") == "/"
    assert transfer_text(1500, None) == "1.5kB" and transfer_text(10, 2000) == "10B of 2kB"


async def test_listing_shows_the_direct_entries_directories_first() -> None:
    fake = FakeArchives()
    fake.archives["/etc/"] = ETC
    listing = await list_directory(fake, "c1", "/etc")  # type: ignore[arg-type]
    assert listing.complete and listing.path == "/etc"
    assert [(e.name, e.kind, e.size) for e in listing.entries] == [
        ("ssl", "dir", 0), ("group", "file", 11), ("hostname", "file", 4),
        ("mtab", "link", 0), ("passwd", "file", 11),
    ]  # fmt: skip
    mtab = next(e for e in listing.entries if e.name == "mtab")
    assert mtab.link_target == "/proc/mounts" and mtab.mode_text == "lrw-r--r--"
    assert listing.entries[0].mode_text == "drwxr-xr-x"
    assert fake.closed == 1


async def test_listing_the_root() -> None:
    fake = FakeArchives()
    fake.archives["/"] = ROOT
    listing = await list_directory(fake, "c1", "/")  # type: ignore[arg-type]
    assert [e.name for e in listing.entries] == ["bin", "etc"] and listing.complete


async def test_listing_stops_at_the_caps_and_closes_the_stream() -> None:
    members: list[Member] = [("big", D, ""), ("big/sub", D, "")]
    members += [(f"big/sub/{i:05}", F, "x") for i in range(300)]  # deep: read, not listed
    members += [(f"big/{i:05}", F, "x") for i in range(300)]
    fake = FakeArchives()
    fake.archives["/big/"] = tar_of(members)
    listing = await list_directory(fake, "c1", "/big", max_entries=10)  # type: ignore[arg-type]
    assert not listing.complete and len(listing.entries) == 10
    assert "showing the first 10" in listing.problem and fake.closed == 1
    listing = await list_directory(fake, "c1", "/big", max_headers=100)  # type: ignore[arg-type]
    assert not listing.complete and [e.name for e in listing.entries] == ["sub"]


async def test_listing_errors() -> None:
    fake = FakeArchives()
    with pytest.raises(NotFound, match="Could not find the file /nope/"):
        await list_directory(fake, "c1", "/nope")  # type: ignore[arg-type]
    fake.archives["/file/"] = tar_of([("file", F, "data")])
    with pytest.raises(ArchiveError, match="/file is not a directory"):
        await list_directory(fake, "c1", "/file")  # type: ignore[arg-type]
    fake.archives["/junk/"] = b"<html>" + bytes(1024)
    with pytest.raises(ArchiveError, match="not a tar archive"):
        await list_directory(fake, "c1", "/junk")  # type: ignore[arg-type]


async def test_a_broken_or_stalled_archive_gives_what_was_read() -> None:
    fake = FakeArchives()
    cut = ETC[:2048]  # etc, passwd, ssl and part of what follows
    fake.archives["/etc/"] = cut
    fake.fail["/etc/"] = StreamError("the archive of /etc/ ended early: payload not completed")
    listing = await list_directory(fake, "c1", "/etc")  # type: ignore[arg-type]
    assert not listing.complete and [e.name for e in listing.entries] == ["ssl", "passwd"]
    assert listing.problem.startswith("the archive of /etc/ ended early")
    del fake.fail["/etc/"]
    listing = await list_directory(fake, "c1", "/etc")  # type: ignore[arg-type]
    assert not listing.complete and listing.problem == "the archive ended early"
    fake.archives["/etc/"] = ETC
    fake.stall_after = 1400
    listing = await list_directory(fake, "c1", "/etc", idle_timeout=0.2)  # type: ignore[arg-type]
    assert not listing.complete and "stopped sending the archive of /etc" in listing.problem
    assert fake.closed == 3


async def test_download_extracts_into_the_folder_with_progress(tmp_path: Path) -> None:
    fake = FakeArchives()
    fake.archives["/etc/hostname"] = tar_of([("hostname", F, "web\n")])
    fake.stats["/etc/hostname"] = {"name": "hostname", "size": 4, "mode": 0o644}
    progress: list[tuple[int, int | None]] = []
    result = await download(fake, "c1", "/etc/hostname", tmp_path, lambda *p: progress.append(p))  # type: ignore[arg-type]
    assert (tmp_path / "hostname").read_text() == "web\n"
    assert result.target == tmp_path / "hostname" and result.skipped == ()
    assert progress[-1][0] == result.size and progress[-1][1] == result.size
    fake.archives["/etc"] = ETC
    fake.stats["/etc"] = {"name": "etc", "size": 4096, "mode": (1 << 31) | 0o755}
    progress.clear()
    result = await download(fake, "c1", "/etc", tmp_path, lambda *p: progress.append(p))  # type: ignore[arg-type]
    assert (tmp_path / "etc/ssl/certs/ca.pem").read_text() == "pem"
    assert (tmp_path / "etc/group").read_text() == "root:x:0:0\n"  # the hardlink
    assert result.skipped == ("etc/mtab",)  # an absolute link would point outside the folder
    assert all(total is None for _, total in progress)  # a directory's size is not known
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etc", "hostname"]


async def test_download_never_writes_outside_the_folder(tmp_path: Path) -> None:
    folder, outside = tmp_path / "folder", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (folder / "existing").symlink_to(outside)  # a link the user already had in the folder
    hostile = tar_of([
        ("../outside/escaped", F, "no"), ("/abs", F, "stripped into the folder"),
        ("link", L, str(outside)), ("link/through", F, "a directory in the folder"),
        ("rel", L, "../outside"), ("rel/through", F, "a directory in the folder"),
        ("existing/through", F, "no"), ("hard", H, "../outside/x"), ("ok", F, "yes"),
    ])  # fmt: skip
    fake = FakeArchives()
    fake.archives["/x"] = hostile
    result = await download(fake, "c1", "/x", folder)  # type: ignore[arg-type]
    assert list(outside.iterdir()) == []
    assert (folder / "ok").read_text() == "yes" and (folder / "abs").exists()
    assert not (folder / "link").is_symlink() and (folder / "link" / "through").is_file()
    assert set(result.skipped) == {"../outside/escaped", "link", "rel", "existing/through", "hard"}


async def test_download_errors(tmp_path: Path) -> None:
    fake = FakeArchives()
    with pytest.raises(NotFound, match="Could not find the file /nope"):
        await download(fake, "c1", "/nope", tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ArchiveError, match="is not a folder"):
        await download(fake, "c1", "/nope", tmp_path / "missing")  # type: ignore[arg-type]
    fake.archives["/bad"] = b"not a tar" * 100
    with pytest.raises(ArchiveError, match="damaged archive"):
        await download(fake, "c1", "/bad", tmp_path)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []  # the spool file leaves no trace


async def test_upload_sends_a_tar_of_the_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "inner").write_text("inner\n")
    fake = FakeArchives()
    progress: list[tuple[int, int | None]] = []
    sources = [tmp_path / "notes.txt", tmp_path / "dir"]
    await upload(fake, "c1", "/tmp/", sources, lambda *p: progress.append(p))  # type: ignore[arg-type]
    [(container, path, body)] = fake.put
    assert (container, path) == ("c1", "/tmp")
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert sorted(tar.getnames()) == ["dir", "dir/inner", "notes.txt"]
        notes = tar.extractfile("notes.txt")
        assert notes is not None and notes.read() == b"hello\n"
    assert progress[-1] == (len(body), len(body))
    with pytest.raises(ArchiveError, match="cannot read"):
        await upload(fake, "c1", "/tmp", [tmp_path / "missing"])  # type: ignore[arg-type]


def test_pack_and_extract_round_trip(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    with pack([tmp_path / "a"]) as archive:
        out = tmp_path / "out"
        out.mkdir()
        assert extract_safely(archive, out) == []
    assert (out / "a").read_text() == "a"
    entry = FileEntry("x", "other", 0, 0o600, 0)
    assert entry.mode_text == "?rw-------" and entry.sort_key == (True, "x")
