"""doca.client.build_context: the build context tar `doca build` sends, made as the docker CLI
makes it (what it holds, in which order, with which headers), and read back by the engine's
own unpacker."""

from __future__ import annotations

import gzip
import io
import os
import socket
import stat
import tarfile
from pathlib import Path

import pytest

from doca.client.build_context import (
    ContextError,
    is_archive,
    local_context,
    trim_build_files,
    write_context,
    write_dockerfile_context,
)
from engine.build.context import apply_dockerignore, drop_build_files, extract_context

DOCKERFILE = b"FROM busybox\nCOPY . /ctx\n"


def make_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def tar_of(root: Path, dockerfile: str = "", stdin: bytes | None = None) -> tuple[bytes, str]:
    out = io.BytesIO()
    name = write_context(out, local_context(str(root), dockerfile), stdin)
    return out.getvalue(), name


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return archive.getmembers()


def names(data: bytes) -> list[str]:
    return [member.name for member in members(data)]


def content(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        extracted = archive.extractfile(name)
        assert extracted is not None
        return extracted.read()


def test_entries_come_in_lexical_order_per_directory(tmp_path: Path) -> None:
    files = {"Dockerfile": DOCKERFILE, "b.txt": "b", "a/z.txt": "z", "a/b/c.txt": "c",
             "B.txt": "B", ".hidden": "h"}  # fmt: skip
    root = make_tree(tmp_path / "ctx", files)
    data, name = tar_of(root)
    assert name == "Dockerfile"
    assert names(data) == [".hidden", "B.txt", "Dockerfile", "a", "a/b", "a/b/c.txt", "a/z.txt",
                           "b.txt"]  # fmt: skip
    # The same tree gives the same entries, whatever order the directory lists them in.
    assert names(tar_of(root)[0]) == names(data)


def test_headers_are_owned_by_root_without_names_and_keep_modes_and_mtimes(
    tmp_path: Path,
) -> None:
    root = make_tree(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "bin/run.sh": "#!/bin/sh\n"})
    os.chmod(root / "bin" / "run.sh", 0o4750)
    os.chmod(root / "bin", 0o710)
    os.utime(root / "bin" / "run.sh", (1_500_000_000, 1_500_000_000))
    os.symlink("run.sh", root / "bin" / "link")
    os.link(root / "bin" / "run.sh", root / "hard")
    os.mkfifo(root / "fifo")
    entries = {m.name: m for m in members(tar_of(root)[0])}
    assert all((m.uid, m.gid, m.uname, m.gname) == (0, 0, "", "") for m in entries.values())
    run = entries["bin/run.sh"]
    assert (run.type, run.mode, run.mtime, run.size) == (tarfile.REGTYPE, 0o4750, 1_500_000_000, 10)
    assert (entries["bin"].type, entries["bin"].mode) == (tarfile.DIRTYPE, 0o710)
    assert (entries["bin/link"].type, entries["bin/link"].linkname) == (tarfile.SYMTYPE, "run.sh")
    # The second name of a file is a hard link to the first one sent.
    assert (entries["hard"].type, entries["hard"].linkname) == (tarfile.LNKTYPE, "bin/run.sh")
    assert entries["fifo"].type == tarfile.FIFOTYPE


def test_sockets_and_device_nodes_are_left_out(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", {"Dockerfile": DOCKERFILE})
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(root / "sock"))
        if os.geteuid() == 0:
            os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        assert names(tar_of(root)[0]) == ["Dockerfile"]


def test_the_archive_ends_with_two_zero_blocks_and_no_record_padding(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "f.txt": "data\n"})
    data, _ = tar_of(root)
    # Two headers, two data blocks, the end marker: what the docker CLI sends (3.072kB).
    assert len(data) == 6 * 512
    assert data.endswith(b"\0" * 1024)


def test_compressed_context_is_gzip_of_the_same_tar(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "f.txt": "data\n"})
    out = io.BytesIO()
    write_context(out, local_context(str(root)), compress=True)
    assert out.getvalue()[:2] == b"\x1f\x8b"
    assert names(gzip.decompress(out.getvalue())) == ["Dockerfile", "f.txt"]


DOCKERIGNORE = "# comment\nsecret*\nlogs\n!logs/keep.log\n**/*.tmp\nDockerfile\n.dockerignore\n"


def test_dockerignore_excludes_with_dockers_rules(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", {
        "Dockerfile": DOCKERFILE, ".dockerignore": DOCKERIGNORE, "app.py": "x",
        "secret.key": "k", "logs/a.log": "a", "logs/keep.log": "kept", "deep/x/y.tmp": "t",
        "deep/x/y.txt": "t", "cache/big.bin": "b",
    })  # fmt: skip
    assert names(tar_of(root)[0]) == [
        # Excluded, yet sent: the engine reads them, then drops them itself.
        ".dockerignore", "Dockerfile", "app.py", "cache", "cache/big.bin", "deep", "deep/x",
        "deep/x/y.txt",
        # "logs" is excluded, but "!logs/keep.log" re-includes a file below it: the walk goes
        # in without sending the directory entry.
        "logs/keep.log",
    ]  # fmt: skip


def test_an_excluded_directory_without_exceptions_is_skipped_whole(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", {
        "Dockerfile": DOCKERFILE, ".dockerignore": "node_modules\n", "node_modules/a/b": "x",
    })  # fmt: skip
    assert names(tar_of(root)[0]) == [".dockerignore", "Dockerfile"]


def test_trim_build_files_re_includes_the_dockerfile_and_dockerignore() -> None:
    assert trim_build_files(["*"], "sub/Dockerfile", False) == [
        "*", "!.dockerignore", "!sub/Dockerfile"
    ]  # fmt: skip
    assert trim_build_files(["*"], "-", True) == ["*", "!.dockerignore"]
    assert trim_build_files(["*.log"], "Dockerfile", False) == ["*.log"]


def test_a_dockerfile_outside_the_context_goes_in_under_a_generated_name(
    tmp_path: Path,
) -> None:
    root = make_tree(tmp_path / "ctx", {"Dockerfile": "FROM ignored\n", "f.txt": "f"})
    (tmp_path / "other.Dockerfile").write_bytes(DOCKERFILE)
    data, name = tar_of(root, str(tmp_path / "other.Dockerfile"))
    assert name.startswith(".dockerfile.") and len(name) == len(".dockerfile.") + 20
    # The context as it is, then the Dockerfile, then a .dockerignore that hides it from COPY.
    assert names(data) == ["Dockerfile", "f.txt", name, ".dockerignore"]
    assert content(data, name) == DOCKERFILE
    assert content(data, ".dockerignore") == f".dockerignore\n{name}\n".encode()
    added = {m.name: m for m in members(data)}
    assert added[name].mode == added[".dockerignore"].mode == 0o600
    # A second build picks another name.
    assert tar_of(root, str(tmp_path / "other.Dockerfile"))[1] != name


def test_an_existing_dockerignore_gets_the_generated_name_appended(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", {".dockerignore": "*.log\n", "a.log": "x", "b": "y"})
    (tmp_path / "Dockerfile").write_bytes(DOCKERFILE)
    data, name = tar_of(root, str(tmp_path / "Dockerfile"))
    assert names(data) == [".dockerignore", "b", name]
    assert content(data, ".dockerignore") == f"*.log\n\n{name}\n".encode()


def test_a_dockerfile_from_stdin_with_a_context_directory(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", {"Dockerfile": "FROM ignored\n", "f.txt": "f"})
    data, name = tar_of(root, "-", stdin=DOCKERFILE)
    assert names(data) == ["Dockerfile", "f.txt", name, ".dockerignore"]
    assert content(data, name) == DOCKERFILE


def test_the_engine_sees_what_docker_would_send(tmp_path: Path) -> None:
    """The engine's unpacker and .dockerignore pass over the tar leave exactly the files COPY
    may use: neither the Dockerfile nor .dockerignore when they are excluded."""
    root = make_tree(tmp_path / "ctx", {
        "Dockerfile": DOCKERFILE, ".dockerignore": DOCKERIGNORE, "app.py": "x",
        "secret.key": "k", "logs/a.log": "a", "logs/keep.log": "kept",
    })  # fmt: skip
    data, name = tar_of(root)
    unpacked = tmp_path / "unpacked"
    extract_context(io.BytesIO(data), unpacked)
    matcher = apply_dockerignore(unpacked, name)
    assert (unpacked / name).read_bytes() == DOCKERFILE
    drop_build_files(unpacked, name, matcher)
    found = sorted(str(p.relative_to(unpacked)) for p in unpacked.rglob("*"))
    assert found == ["app.py", "logs", "logs/keep.log"]


def test_local_context_resolves_like_the_docker_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree(tmp_path / "real", {"dockerfile": DOCKERFILE, "sub/Build": DOCKERFILE})
    os.symlink(root, tmp_path / "link")
    # The lowercase name is a fallback; the context's symlink is followed.
    found = local_context(str(tmp_path / "link"))
    assert (found.root, found.dockerfile, found.outside) == (root, "dockerfile", False)
    # -f is relative to the working directory, not to the context.
    monkeypatch.chdir(root / "sub")
    assert local_context(str(root), "Build").dockerfile == "sub/Build"
    monkeypatch.chdir(tmp_path)
    outside = local_context(str(root / "sub"), "real/dockerfile")
    assert (outside.dockerfile, outside.outside) == ("../dockerfile", True)
    assert local_context(str(root), "-").dockerfile == "-"


def test_local_context_errors_are_worded_as_dockers(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", {"f.txt": "f"})
    with pytest.raises(ContextError) as missing:
        local_context(str(root))
    assert str(missing.value) == (
        "unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
        f"lstat {root}/Dockerfile: no such file or directory"
    )
    with pytest.raises(ContextError, match=r"context must be a directory: .*f\.txt$"):
        local_context(str(root / "f.txt"))


def test_stdin_is_told_apart_as_the_docker_cli_does(tmp_path: Path) -> None:
    out = io.BytesIO()
    assert write_dockerfile_context(out, DOCKERFILE) == "Dockerfile"
    (only,) = members(out.getvalue())
    assert (only.name, only.mode, only.uid, content(out.getvalue(), "Dockerfile")) == (
        "Dockerfile", 0o644, 0, DOCKERFILE
    )  # fmt: skip
    assert is_archive(out.getvalue()[:1024])
    assert is_archive(gzip.compress(out.getvalue())[:1024])
    assert not is_archive(DOCKERFILE)
    assert not is_archive(b"FROM busybox\n" * 100)
    assert not is_archive(b"")
