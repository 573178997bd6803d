"""Reading tar member headers from a stream in arbitrary chunks, contents skipped: ustar, PAX
(long names, the engine's format) and GNU long names, and the end of the archive."""

from __future__ import annotations

import io
import random
import tarfile

import pytest

from desktop_app.state.tar_headers import TarFormatError, TarHeaderReader, parse_pax

LONG = "deep/" + "d" * 120 + "/" + "f" * 110  # longer than ustar's 100 + 155 split allows


def make_tar(fmt: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        d = tarfile.TarInfo("etc")
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 1704067200
        tar.addfile(d)
        data = b"root:x:0:0:root:/root:/bin/sh\n" * 50
        f = tarfile.TarInfo("etc/passwd")
        f.size, f.mode = len(data), 0o644
        tar.addfile(f, io.BytesIO(data))
        link = tarfile.TarInfo("etc/localtime")
        link.type, link.linkname = tarfile.SYMTYPE, "/usr/share/zoneinfo/" + "Z" * 120
        tar.addfile(link)
        hard = tarfile.TarInfo("etc/group")
        hard.type, hard.linkname = tarfile.LNKTYPE, "etc/passwd"
        tar.addfile(hard)
        big = tarfile.TarInfo(LONG)
        big.size = 70_000
        tar.addfile(big, io.BytesIO(bytes(70_000)))
        fifo = tarfile.TarInfo("etc/fifo")
        fifo.type = tarfile.FIFOTYPE
        tar.addfile(fifo)
    return out.getvalue()


def read_all(data: bytes, chunk_sizes: list[int]) -> tuple[list[tuple[str, bytes, int]], bool]:
    reader = TarHeaderReader()
    headers = []
    pos, i = 0, 0
    while pos < len(data):
        size = chunk_sizes[i % len(chunk_sizes)]
        headers.extend(reader.feed(data[pos : pos + size]))
        pos, i = pos + size, i + 1
    return [(h.name, h.type, h.size) for h in headers], reader.finished


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
@pytest.mark.parametrize("chunks", [[1 << 20], [1], [511, 513, 7], [4096, 100, 3]])
def test_headers_in_any_chunking(fmt: int, chunks: list[int]) -> None:
    data = make_tar(fmt)
    headers, finished = read_all(data, chunks)
    assert headers == [
        ("etc", tarfile.DIRTYPE, 0),
        ("etc/passwd", tarfile.REGTYPE, 1500),
        ("etc/localtime", tarfile.SYMTYPE, 0),
        ("etc/group", tarfile.LNKTYPE, 0),
        (LONG, tarfile.REGTYPE, 70_000),
        ("etc/fifo", tarfile.FIFOTYPE, 0),
    ]
    assert finished


def test_header_fields_match_tarfile() -> None:
    data = make_tar(tarfile.PAX_FORMAT)
    reader = TarHeaderReader()
    headers = reader.feed(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        expected = tar.getmembers()
    for ours, theirs in zip(headers, expected, strict=True):
        assert (ours.name, ours.size, ours.mode, ours.linkname) == (
            theirs.name, theirs.size, theirs.mode, theirs.linkname
        )  # fmt: skip
        assert ours.mtime == theirs.mtime
    assert headers[0].is_dir and headers[2].is_symlink and not headers[1].is_dir


def test_random_chunks_and_data_after_the_end_is_ignored() -> None:
    data = make_tar(tarfile.PAX_FORMAT) + b"garbage after the end"
    rng = random.Random(7)
    headers, finished = read_all(data, [rng.randint(1, 2000) for _ in range(50)])
    assert len(headers) == 6 and finished


def test_a_cut_archive_is_not_finished_and_garbage_is_refused() -> None:
    data = make_tar(tarfile.PAX_FORMAT)
    headers, finished = read_all(data[:4200], [1000])
    assert [h[0] for h in headers] == ["etc", "etc/passwd", "etc/localtime"] and not finished
    with pytest.raises(TarFormatError):
        TarHeaderReader().feed(b"{" + b"x" * 600)


def test_pax_records() -> None:
    assert parse_pax(b"30 mtime=1704067200.123456789\n19 path=etc/passwd\n") == {
        "mtime": "1704067200.123456789",
        "path": "etc/passwd",
    }
    with pytest.raises(TarFormatError):
        parse_pax(b"xx path=broken\n")
