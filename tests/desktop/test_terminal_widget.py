"""The terminal widget against an in-memory exec: key presses as xterm's bytes, Tab and Escape
kept from the window, selection, copy and paste, the grid following the widget's size, and
painting with the palette's and SGR colours."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QColor, QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import QDialog, QLineEdit, QVBoxLayout
from pytestqt.qtbot import QtBot

from desktop_app.state.terminal_session import TerminalSession
from desktop_app.views.terminal_colours import colour
from desktop_app.views.terminal_keys import CONTROL, Shortcut, key_bytes, shortcut
from desktop_app.views.terminal_widget import TerminalWidget
from tests.desktop.test_terminal_session import FakeExec, new_session

K, M = Qt.Key, Qt.KeyboardModifier
NONE, SHIFT, ALT = M.NoModifier, M.ShiftModifier, M.AltModifier


def test_keys_as_xterm_sends_them() -> None:
    assert key_bytes(K.Key_A, NONE, "a") == b"a"
    assert key_bytes(K.Key_Eacute, NONE, "\u00e9") == "\u00e9".encode()
    assert key_bytes(K.Key_Return, NONE, "\r") == b"\r"
    assert key_bytes(K.Key_Enter, M.KeypadModifier, "\r") == b"\r"
    assert key_bytes(K.Key_Backspace, NONE, "\b") == b"\x7f"
    assert key_bytes(K.Key_Tab, NONE, "\t") == b"\t"
    assert key_bytes(K.Key_Backtab, SHIFT, "") == b"\x1b[Z"
    assert key_bytes(K.Key_Escape, NONE, "\x1b") == b"\x1b"
    assert key_bytes(K.Key_Up, NONE, "") == b"\x1b[A"
    assert key_bytes(K.Key_Left, NONE, "") == b"\x1b[D"
    assert key_bytes(K.Key_Up, NONE, "", application_cursor=True) == b"\x1bOA"
    assert key_bytes(K.Key_Right, CONTROL, "") == b"\x1b[1;5C"
    assert key_bytes(K.Key_Home, NONE, "") == b"\x1b[H"
    assert key_bytes(K.Key_End, NONE, "", application_cursor=True) == b"\x1bOF"
    assert key_bytes(K.Key_Delete, NONE, "") == b"\x1b[3~"
    assert key_bytes(K.Key_PageUp, SHIFT, "") == b"\x1b[5;2~"
    assert key_bytes(K.Key_F1, NONE, "") == b"\x1bOP"
    assert key_bytes(K.Key_F12, NONE, "") == b"\x1b[24~"
    assert key_bytes(K.Key_C, CONTROL, "\x03") == b"\x03"
    assert key_bytes(K.Key_D, CONTROL, "") == b"\x04"
    assert key_bytes(K.Key_Z, CONTROL | SHIFT, "") == b"\x1a"
    assert key_bytes(K.Key_BracketLeft, CONTROL, "") == b"\x1b"
    assert key_bytes(K.Key_Space, CONTROL, " ") == b"\x00"
    assert key_bytes(K.Key_Backslash, CONTROL, "") == b"\x1c"
    assert key_bytes(K.Key_B, ALT, "b") == b"\x1bb"
    assert key_bytes(K.Key_Shift, SHIFT, "") == b""
    assert key_bytes(K.Key_A, NONE, "\x01") == b""  # text that is not text


def test_copy_and_paste_shortcuts() -> None:
    assert shortcut(K.Key_C, CONTROL | SHIFT) is Shortcut.COPY
    assert shortcut(K.Key_V, CONTROL | SHIFT) is Shortcut.PASTE
    assert shortcut(K.Key_Insert, SHIFT) is Shortcut.PASTE
    assert shortcut(K.Key_C, CONTROL) is None  # Ctrl+C is the shell's interrupt
    assert shortcut(K.Key_A, CONTROL | SHIFT) is None


def test_colours() -> None:
    base = QColor("#123456")
    assert colour("default", base) == base
    assert colour("red", base) == QColor("#cd0000")
    assert colour("brown", base) == QColor("#cdcd00")  # pyte's name for yellow
    assert colour("ff8700", base) == QColor("#ff8700")  # 256 colours and true colour
    assert colour("nonsense", base) == base


@pytest.fixture
def terminal(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop
) -> Iterator[tuple[TerminalWidget, TerminalSession, FakeExec]]:
    fake = FakeExec()
    dialog = QDialog()
    widget = TerminalWidget()
    other = QLineEdit()  # something the focus could move to
    layout = QVBoxLayout(dialog)
    layout.addWidget(widget)
    layout.addWidget(other)
    closer = QAction("Close", dialog)
    closer.setShortcut(QKeySequence("Ctrl+W"))
    closer.triggered.connect(dialog.reject)
    dialog.addAction(closer)
    qtbot.addWidget(dialog)
    dialog.resize(500, 300)
    dialog.show()
    qtbot.waitExposed(dialog)
    rows, columns = widget.grid_size()
    session = new_session(fake, rows=rows, columns=columns, on_change=widget.lines_changed)
    widget.set_session(session)
    task = asyncio.ensure_future(session.run())
    qtbot.waitUntil(lambda: session.connected, timeout=3000)
    widget.setFocus()
    yield widget, session, fake
    task.cancel()
    qtbot.waitUntil(task.done, timeout=3000)


def test_typing_sends_bytes(
    qtbot: QtBot, terminal: tuple[TerminalWidget, TerminalSession, FakeExec]
) -> None:
    widget, session, fake = terminal
    qtbot.keyClicks(widget, "ls -l")
    qtbot.keyClick(widget, K.Key_Tab)  # completion, not the next widget
    qtbot.keyClick(widget, K.Key_Return)
    qtbot.keyClick(widget, K.Key_Up)
    qtbot.keyClick(widget, K.Key_Backspace)
    qtbot.keyClick(widget, K.Key_C, CONTROL)
    qtbot.keyClick(widget, K.Key_Escape)  # the dialog stays open
    qtbot.keyClick(widget, K.Key_W, CONTROL)  # the shell's, not the window's shortcut
    assert bytes(fake.transport.written) == b"ls -l\t\r\x1b[A\x7f\x03\x1b\x17"
    assert widget.window().isVisible()

    fake.transport.written.clear()
    session.feed(b"\x1b[?1h")  # the program asks for application cursor keys
    qtbot.keyClick(widget, K.Key_Down)
    assert bytes(fake.transport.written) == b"\x1bOB"


def test_select_copy_and_paste(
    qtbot: QtBot, terminal: tuple[TerminalWidget, TerminalSession, FakeExec]
) -> None:
    widget, session, fake = terminal
    fake.output.put_nowait(b"first line\r\nsecond line\r\n/ # ")
    qtbot.waitUntil(lambda: session.display()[2] == "/ #", timeout=3000)
    cell_w, cell_h = widget.cell_width, widget.cell_height

    def point(row: int, column: int) -> QPoint:
        return QPoint(int((column + 0.5) * cell_w), int((row + 0.5) * cell_h))

    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=point(0, 6))
    qtbot.mouseMove(widget, point(1, 5))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=point(1, 5))
    assert widget.selection() == ((0, 6), (1, 5))
    assert widget.selected_text() == "line\nsecond"
    qtbot.keyClick(widget, K.Key_C, CONTROL | SHIFT)
    assert QGuiApplication.clipboard().text() == "line\nsecond"
    assert bytes(fake.transport.written) == b""  # a shortcut, not a key for the shell

    QGuiApplication.clipboard().setText("echo one\necho two")
    qtbot.keyClick(widget, K.Key_V, CONTROL | SHIFT)
    assert bytes(fake.transport.written) == b"echo one\recho two"
    qtbot.keyClick(widget, K.Key_X)
    assert widget.selection() is None  # typing ends the selection


def test_the_grid_follows_the_widget(
    qtbot: QtBot, terminal: tuple[TerminalWidget, TerminalSession, FakeExec]
) -> None:
    widget, session, fake = terminal
    assert session.size == widget.grid_size()
    rows, columns = widget.grid_size()
    assert rows == int(widget.height() // widget.cell_height)
    assert columns == int(widget.width() // widget.cell_width)
    widget.window().resize(700, 450)
    qtbot.waitUntil(lambda: session.size != (rows, columns), timeout=3000)
    assert session.size == widget.grid_size()
    assert session.size[0] > rows and session.size[1] > columns
    qtbot.waitUntil(lambda: fake.resizes[-1:] == [session.size], timeout=3000)


def test_painting_uses_the_palette_and_sgr_colours(
    qtbot: QtBot, terminal: tuple[TerminalWidget, TerminalSession, FakeExec]
) -> None:
    widget, session, fake = terminal
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.Base, QColor("#101010"))  # a dark theme
    palette.setColor(QPalette.ColorRole.Text, QColor("#e0e0e0"))
    widget.setPalette(palette)
    fake.output.put_nowait(b"\x1b[42m  \x1b[0m\x1b[7m  \x1b[0m\r\n")
    qtbot.waitUntil(lambda: session.screen.buffer[0][0].bg == "green", timeout=3000)
    widget.clearFocus()
    image = widget.grab().toImage()
    h = int(widget.cell_height / 2)

    def at(column: int) -> str:
        return image.pixelColor(int((column + 0.5) * widget.cell_width), h).name()

    assert at(0) == "#00cd00"  # SGR 42: green background
    assert at(2) == "#e0e0e0"  # reverse video: the palette's text colour behind
    assert at(10) == "#101010"  # the palette's base colour
