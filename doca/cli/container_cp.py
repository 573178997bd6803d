"""`cp`: files between a container and the local filesystem, either way, or a tar archive on
stdin or stdout (``-``), with the docker CLI's rules for where a copy lands and what it is
called."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any

import click

from doca.cli import container_archive as archive
from doca.cli.container_attach import die
from doca.cli.container_command import DockerCommand
from doca.cli.container_terminal import is_terminal
from doca.cli.formatting import human_size
from doca.cli.runner import Session, fail
from doca.client import EngineClient, EngineError, EngineUnavailable

# Go's os.FileMode type bits, as ContainerPathStat's mode carries them.
GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27
GO_DEVICE = 1 << 26
GO_IRREGULAR = 1 << 19
_CHUNK = 1 << 20


def split_cp_arg(arg: str) -> tuple[str, str]:
    """(container, path): ``CONTAINER:PATH``, or ("", path) for a local path; a local path with
    a colon is written ``./a:b`` or ``/a:b``."""
    if arg.startswith("/"):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg
    return container, path


def _mode_problem(mode: int) -> str | None:
    if mode & GO_DEVICE:
        return "got a device"
    if mode & GO_IRREGULAR:
        return "got an irregular file"
    return None


def validate_output_path(path: str) -> None:
    """The docker CLI's ValidateOutputPath: the parent must exist; an existing path must be a
    directory or a regular file."""
    directory = archive.go_dir(archive.go_clean(path))
    if directory not in ("", ".") and not os.path.exists(directory):
        raise ValueError(f'invalid output path: directory "{directory}" does not exist')
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as error:
        raise archive.os_error("stat", path, error) from None
    if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
        kind = "got a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else \
            "got an irregular file"  # fmt: skip
        raise ValueError(
            f'invalid output path: "{path}" must be a directory or a regular file: {kind}'
        )


def _join(parent_of: str, target: str) -> str:
    """A link target relative to the directory of ``parent_of`` (filepath.Join)."""
    if target.startswith("/"):
        return target
    return archive.go_clean(archive.split_path_dir_entry(parent_of)[0] + "/" + target)


async def _stat(client: EngineClient, container: str, path: str) -> dict[str, Any] | None:
    try:
        return await client.containers.stat_path(container, path)
    except EngineUnavailable:
        raise
    except EngineError:
        return None


async def copy_from_container(
    client: EngineClient, container: str, source: str, destination: str, follow: bool
) -> int:
    """Copy ``container:source`` to the local ``destination`` (``-``: a tar on stdout); the
    bytes copied."""
    if destination != "-":
        destination = archive.local_path(destination)
    validate_output_path(destination)
    rebase = ""
    if follow:
        found = await _stat(client, container, source)
        if found and int(found.get("mode") or 0) & GO_SYMLINK:
            target = _join(source, str(found.get("linkTarget") or ""))
            source, rebase = archive.rebase_name(source, target)
    chunks = client.containers.get_archive(container, source)
    if destination == "-":
        return await _write_all(chunks, sys.stdout.fileno())
    found = await _stat(client, container, source)
    is_dir = bool(found and int(found.get("mode") or 0) & GO_DIR)
    info = archive.CopyInfo(source, True, is_dir, rebase)
    with tempfile.TemporaryFile() as spool:
        size = await _write_all(chunks, spool.fileno())
        spool.seek(0)
        read = await asyncio.to_thread(_extract, spool, info, destination)
    return read if read is not None else size


def _extract(spool: IO[bytes], source: archive.CopyInfo, destination: str) -> int | None:
    """Extract as CopyTo does; the bytes read of the archive when it was read entry by entry to
    rename them (the docker CLI counts those), else None (it read all)."""
    renames: archive.Renames = ()
    if source.rebase_name:
        renames = ((archive.split_path_dir_entry(source.path)[1], source.rebase_name),)
    target = archive.destination_info(destination)
    directory, more = archive.prepare_copy(source, target)
    read = archive.extract_tar(spool, directory, renames + more)
    return read if renames + more else None


async def _write_all(chunks: AsyncIterator[bytes], fd: int) -> int:
    size = 0
    async for chunk in chunks:
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]
        size += len(chunk)
    return size


async def _file_chunks(source: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(source.read, _CHUNK):
        yield chunk


async def copy_to_container(
    client: EngineClient,
    source: str,
    container: str,
    destination: str,
    follow: bool,
    copy_uid_gid: bool,
) -> tuple[int, str]:
    """Copy the local ``source`` (``-``: a tar from stdin) to ``container:destination``; the
    bytes sent and the path they went to."""
    if source != "-":
        source = archive.local_path(source)
    target = archive.CopyInfo(destination)
    found = await _stat(client, container, destination)
    if found and int(found.get("mode") or 0) & GO_SYMLINK:
        link = _join(destination, str(found.get("linkTarget") or ""))
        target = archive.CopyInfo(link)
        found = await _stat(client, container, link)
    problem = _mode_problem(int(found.get("mode") or 0)) if found else None
    if problem:
        raise ValueError(
            f'destination "{container}:{destination}" must be a directory or a regular file: '
            f"{problem}"
        )
    if found:
        target = archive.CopyInfo(target.path, True, bool(int(found.get("mode") or 0) & GO_DIR))
    put = client.containers.put_archive
    if source == "-":
        if not target.is_dir:
            raise ValueError(f'destination "{container}:{destination}" must be a directory')
        await put(container, target.path, _file_chunks(sys.stdin.buffer), True, copy_uid_gid)
        # The docker CLI counts no progress for an archive from stdin.
        return 0, target.path
    local = archive.source_info(source, follow)
    directory, renames = archive.prepare_copy(local, target)
    with tempfile.TemporaryFile() as spool:
        size = await asyncio.to_thread(archive.write_source_tar, local, spool, renames)
        spool.seek(0)
        await put(container, directory, _file_chunks(spool), True, copy_uid_gid)
    return size, target.path


class CopyError(Exception):
    """A copy the docker CLI refuses, or a local path it cannot use; the message is its
    text."""


@click.command(
    cls=DockerCommand,
    docker_usage="[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\t{path} [OPTIONS] SRC_PATH|- "
    "CONTAINER:DEST_PATH",
)
@click.option("-a", "--archive", "copy_uid_gid", is_flag=True, help="Copy all uid/gid information.")
@click.option("-L", "--follow-link", is_flag=True, help="Always follow symbol link in SRC_PATH.")
@click.option("-q", "--quiet", is_flag=True, default=None, help="Suppress progress output.")
@click.argument("source", metavar="SRC")
@click.argument("destination", metavar="DEST")
@click.pass_obj
def cp(
    session: Session,
    copy_uid_gid: bool,
    follow_link: bool,
    quiet: bool | None,
    source: str,
    destination: str,
) -> None:
    """Copy files/folders between a container and the local filesystem.

    CONTAINER:SRC_PATH DEST_PATH|- or SRC_PATH|- CONTAINER:DEST_PATH; '-' is a tar archive on
    stdin or stdout."""
    if not source:
        die("source can not be empty")
    if not destination:
        die("destination can not be empty")
    # Progress only goes to a terminal, unless asked for silence anyway.
    silent = quiet if quiet else not is_terminal(sys.stdout.fileno())
    from_container, source_path = split_cp_arg(source)
    to_container, destination_path = split_cp_arg(destination)
    if from_container and to_container:
        die("copying between containers is not supported")
    if not from_container and not to_container:
        die("must specify at least one container source")

    async def operation(client: EngineClient) -> str:
        try:
            return await copy(client)
        except ValueError as error:
            raise CopyError(str(error)) from None
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            raise CopyError(where + (error.strerror or str(error)).lower()) from None

    async def copy(client: EngineClient) -> str:
        if from_container:
            size = await copy_from_container(
                client, from_container, source_path, destination_path, follow_link
            )
            where = archive.local_path(destination_path) if destination_path != "-" else "-"
        else:
            size, path = await copy_to_container(
                client, source_path, to_container, destination_path, follow_link, copy_uid_gid
            )
            where = f"{to_container}:{path}"
        return f"Successfully copied {human_size(size)} to {where}"

    try:
        message = session.run(operation)
    except CopyError as error:
        die(str(error))
    except EngineError as error:
        fail(error, session.host)
    if not silent and destination_path != "-":
        click.echo(message, err=True)
