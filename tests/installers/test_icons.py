"""The app icons the macOS and Windows builds make from resources/icons/doca.svg: the
containers' layout, and every image in them a PNG of the size its entry claims."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

PYINSTALLER = Path(__file__).resolve().parents[2] / "installers" / "pyinstaller"
sys.path.insert(0, str(PYINSTALLER))
import icons  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def icns_elements(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    elements, offset = [], 8
    while offset < len(data):
        kind = data[offset : offset + 4]
        (length,) = struct.unpack(">I", data[offset + 4 : offset + 8])
        elements.append((kind, data[offset + 8 : offset + length]))
        offset += length
    assert offset == len(data)
    return elements


def ico_images(data: bytes) -> list[tuple[int, bytes]]:
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1)
    images = []
    for i in range(count):
        entry = struct.unpack("<BBBBHHII", data[6 + 16 * i : 22 + 16 * i])
        width, height, _, _, planes, bits, size, offset = entry
        assert (width, planes, bits) == (height, 1, 32)
        images.append((width or 256, data[offset : offset + size]))
    return images


def _make(tmp_path: Path, name: str) -> bytes:
    out = tmp_path / name
    result = subprocess.run(
        [sys.executable, str(PYINSTALLER / "icons.py"), str(out)],
        capture_output=True, text=True, timeout=60, check=False,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{out}\n"
    return out.read_bytes()


def test_icns_holds_every_size_macos_asks_for(tmp_path: Path) -> None:
    elements = icns_elements(_make(tmp_path, "doca.icns"))
    assert [kind for kind, _ in elements] == [kind for kind, _ in icons.ICNS_TYPES]
    for (_, size), (_, png) in zip(icons.ICNS_TYPES, elements, strict=True):
        assert png_size(png) == (size, size)


def test_ico_holds_every_size_windows_asks_for(tmp_path: Path) -> None:
    images = ico_images(_make(tmp_path, "doca.ico"))
    assert [size for size, _ in images] == list(icons.ICO_SIZES)
    for size, png in images:
        assert png_size(png) == (size, size)


def test_the_icon_is_the_svg_drawn(tmp_path: Path) -> None:
    """The SVG's rounded blue square, with white containers on it; outside it, transparency."""
    from PySide6.QtGui import QColor, QImage

    for size, png in ico_images(_make(tmp_path, "doca.ico")):
        image = QImage.fromData(png, "PNG")
        assert (image.width(), image.height()) == (size, size)
        assert image.pixelColor(0, 0).alpha() == 0  # outside the rounded corner
        if size >= 64:
            blue = image.pixelColor(size // 2, size * 5 // 16)  # between the containers
            assert (blue.alpha(), blue.blue() > 200, blue.red() < 100) == (255, True, True)
            # The left end of the long container (x 28-100, y 56-78 of 128).
            assert image.pixelColor(size * 31 // 128, size * 67 // 128) == QColor("#ffffff")


def test_other_suffixes_are_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(PYINSTALLER / "icons.py"), str(tmp_path / "doca.png")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == f"icons.py: {tmp_path / 'doca.png'} must end in .icns or .ico\n"
    assert not (tmp_path / "doca.png").exists()
