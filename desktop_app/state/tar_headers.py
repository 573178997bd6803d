"""``TarHeaderReader``: the member headers of a tar stream fed in chunks as they arrive, with the
members' contents skipped, never kept. Enough to list a directory from ``GET …/archive`` without
holding the archive: ustar headers, PAX extended headers (``path``, ``linkpath``, ``size``) and
GNU long names, which is what the engine (Python's tarfile) and dockerd (Go's archive/tar) write.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass

BLOCK = tarfile.BLOCKSIZE
# Extended headers are a few hundred bytes; a larger one means a broken or hostile stream.
MAX_EXTENDED = 1 << 20

_EXTENDED = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)


class TarFormatError(ValueError):
    """The stream is not a tar archive (or is damaged)."""


@dataclass(frozen=True)
class TarHeader:
    name: str  # as in the archive, without a directory's trailing slash
    type: bytes  # tarfile's type constants: REGTYPE, DIRTYPE, SYMTYPE, LNKTYPE …
    size: int
    mode: int  # permission bits
    mtime: float
    linkname: str

    @property
    def is_dir(self) -> bool:
        return self.type == tarfile.DIRTYPE

    @property
    def is_symlink(self) -> bool:
        return self.type == tarfile.SYMTYPE


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def parse_pax(payload: bytes) -> dict[str, str]:
    """The ``"<length> <key>=<value>\\n"`` records of a PAX extended header."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(payload) and payload[pos] != 0:
        space = payload.find(b" ", pos)
        if space < 0 or not payload[pos:space].isdigit():
            raise TarFormatError("bad PAX record")
        end = pos + int(payload[pos:space])
        key, eq, value = payload[space + 1 : end].rstrip(b"\n").partition(b"=")
        if not eq or end <= space:
            raise TarFormatError("bad PAX record")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos = end
    return records


class TarHeaderReader:
    """Feed it the archive's bytes in any chunks; it returns each member's header once read."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._skip = 0  # content bytes (with padding) still to pass over
        self._want = BLOCK  # bytes to collect in the buffer before the next step
        self._extended: tarfile.TarInfo | None = None  # whose payload is being collected
        self._pax: dict[str, str] = {}  # overrides for the next member
        self._global_pax: dict[str, str] = {}
        self.finished = False  # the end-of-archive block was seen

    def feed(self, data: bytes) -> list[TarHeader]:
        headers: list[TarHeader] = []
        view = memoryview(data)
        while view and not self.finished:
            if self._skip:
                passed = min(self._skip, len(view))
                self._skip -= passed
                view = view[passed:]
                continue
            taken = min(self._want - len(self._buffer), len(view))
            self._buffer += view[:taken]
            view = view[taken:]
            if len(self._buffer) == self._want:
                block, self._buffer = bytes(self._buffer), bytearray()
                header = self._step(block)
                if header is not None:
                    headers.append(header)
        return headers

    def _step(self, block: bytes) -> TarHeader | None:
        if self._extended is not None:
            self._apply_extended(self._extended, block)
            self._extended = None
            self._want = BLOCK
            return None
        if block == bytes(BLOCK):
            self.finished = True
            return None
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise TarFormatError(f"not a tar archive: {exc}") from None
        if info.type in _EXTENDED:
            if info.size > MAX_EXTENDED:
                raise TarFormatError("extended tar header too large")
            if info.size:
                self._extended, self._want = info, _padded(info.size)
            return None
        overrides = {**self._global_pax, **self._pax}
        self._pax = {}
        size = int(overrides.get("size", info.size))
        # Only regular files (and types tar does not know) are followed by their contents.
        if info.isreg() or info.type not in tarfile.SUPPORTED_TYPES:
            self._skip = _padded(size)
        name = overrides.get("path", info.name)
        return TarHeader(
            name=name.rstrip("/") if info.type == tarfile.DIRTYPE else name,
            type=info.type,
            size=size,
            mode=info.mode & 0o7777,
            mtime=float(overrides.get("mtime", info.mtime)),
            linkname=overrides.get("linkpath", info.linkname),
        )

    def _apply_extended(self, info: tarfile.TarInfo, payload: bytes) -> None:
        data = payload[: info.size]
        if info.type == tarfile.XHDTYPE:
            self._pax.update(parse_pax(data))
        elif info.type == tarfile.XGLTYPE:
            self._global_pax.update(parse_pax(data))
        else:  # GNU long name or long link name: the NUL-terminated name itself
            text = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            self._pax["path" if info.type == tarfile.GNUTYPE_LONGNAME else "linkpath"] = text
