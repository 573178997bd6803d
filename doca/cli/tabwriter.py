"""Go's text/tabwriter as the docker CLI uses it to align tables: cells end at tabs, a column
block is a run of lines that have a cell in that column, and the last cell of a line (not
tab-terminated) never pads."""

from __future__ import annotations

import unicodedata


def text_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide East Asian characters two, combining marks
    and control characters none (go-runewidth's StringWidth)."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Cc", "Cf", "Mn"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


class _Formatter:
    def __init__(self, lines: list[list[str]], minwidth: int, padding: int) -> None:
        self.lines = lines
        self.minwidth = minwidth
        self.padding = padding
        self.widths: list[int] = []
        self.out: list[str] = []

    def write_lines(self, start: int, end: int) -> None:
        for index in range(start, end):
            cells = self.lines[index]
            parts = []
            for column, cell in enumerate(cells):
                parts.append(cell)
                if column < len(self.widths):
                    parts.append(" " * (self.widths[column] - text_width(cell)))
            self.out.append("".join(parts))

    def format(self, start: int, end: int) -> None:
        column = len(self.widths)
        this = start
        while this < end:
            if column >= len(self.lines[this]) - 1:
                this += 1
                continue
            self.write_lines(start, this)
            start = this
            width = self.minwidth
            while this < end and column < len(self.lines[this]) - 1:
                width = max(width, text_width(self.lines[this][column]) + self.padding)
                this += 1
            self.widths.append(width)
            self.format(start, this)
            self.widths.pop()
            start = this
        self.write_lines(start, end)


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """``text`` aligned as ``tabwriter.NewWriter(out, minwidth, 1, padding, ' ', 0)`` then
    Flush would write it."""
    lines = [line.split("\t") for line in text.split("\n")]
    formatter = _Formatter(lines, minwidth, padding)
    formatter.format(0, len(lines))
    return "\n".join(formatter.out)
