"""The app's icon in the formats macOS and Windows want, made from resources/icons/doca.svg
at build time so that the SVG stays the only source.

    python installers/pyinstaller/icons.py OUT.icns|OUT.ico [--svg SVG]

Qt rasterises the SVG (it is in the build's environment anyway); the containers are written
here: both are PNG images behind a small table, the same on every build host.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

SVG = Path(__file__).resolve().parents[2] / "resources" / "icons" / "doca.svg"
#: ICNS element types holding PNG data, and their pixel sizes (``@2x`` ones share sizes).
ICNS_TYPES = (
    (b"icp4", 16), (b"icp5", 32), (b"ic11", 32), (b"icp6", 64), (b"ic12", 64),
    (b"ic07", 128), (b"ic08", 256), (b"ic13", 256), (b"ic09", 512), (b"ic14", 512),
    (b"ic10", 1024),
)  # fmt: skip
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def icns(pngs: Mapping[int, bytes]) -> bytes:
    """An Apple icon family of PNG images, one per element type (``pngs``: size → PNG)."""
    elements = b"".join(kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
                        for kind, size in ICNS_TYPES)  # fmt: skip
    return b"icns" + struct.pack(">I", 8 + len(elements)) + elements


def ico(pngs: Mapping[int, bytes]) -> bytes:
    """A Windows icon of PNG images (Vista and later read PNG entries), smallest first."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    directory, data = b"", b""
    for size in sizes:
        png = pngs[size]
        side = 0 if size >= 256 else size  # 0 stands for 256 in the one-byte fields
        directory += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        data += png
        offset += len(png)
    return header + directory + data


def render_pngs(svg: Path, sizes: Sequence[int]) -> dict[int, bytes]:
    """PNGs of ``svg`` at each size (square, transparent background)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"icons.py: {svg} is not a valid SVG")
    pngs = {}
    for size in sorted(set(sizes)):
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")  # type: ignore[call-overload]  # stubs say bytes; it takes str
        pngs[size] = bytes(data.data())
    del app
    return pngs


def make_icon(out: Path, svg: Path = SVG) -> Path:
    if out.suffix == ".icns":
        out.write_bytes(icns(render_pngs(svg, [size for _, size in ICNS_TYPES])))
    elif out.suffix == ".ico":
        out.write_bytes(ico(render_pngs(svg, ICO_SIZES)))
    else:
        raise SystemExit(f"icons.py: {out} must end in .icns or .ico")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="icons.py", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the icon to write: .icns or .ico")
    parser.add_argument("--svg", type=Path, default=SVG)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    print(make_icon(args.out, args.svg))


if __name__ == "__main__":
    main()
