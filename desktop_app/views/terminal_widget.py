"""``TerminalWidget``: draws a terminal session's pyte screen in a monospace font, one cell per
character, and sends what is typed to the session.

Default colours follow the palette (the widget looks like a text field, dark mode included);
SGR colours use xterm's. Only the lines the session reports changed are repainted. A selection
made with the mouse is copied with Ctrl+Shift+C; Ctrl+Shift+V pastes."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontMetricsF,
    QGuiApplication,
    QInputMethodEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop_app.state.terminal_session import TerminalSession
from desktop_app.views.terminal_colours import colour
from desktop_app.views.terminal_keys import Shortcut, key_bytes, shortcut

Cell = tuple[int, int]  # (row, column)


class TerminalWidget(QWidget):
    """The screen of ``session`` (set with ``set_session``; blank without one)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: TerminalSession | None = None
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.IBeamCursor)
        self._anchor: Cell | None = None
        self._caret: Cell | None = None
        self._cursor_row = 0
        self._measure()

    # -- geometry ---------------------------------------------------------------------------

    def _measure(self) -> None:
        metrics = QFontMetricsF(self.font())
        self.cell_width = max(metrics.horizontalAdvance("M"), 1.0)
        self.cell_height = max(float(metrics.lineSpacing()), 1.0)
        self._ascent = metrics.ascent()

    def grid_size(self) -> tuple[int, int]:
        """(rows, columns) of whole cells that fit in the widget."""
        rows = int(self.height() // self.cell_height)
        columns = int(self.width() // self.cell_width)
        return max(rows, 1), max(columns, 1)

    def sizeHint(self) -> QSize:
        return QSize(int(self.cell_width * 80) + 1, int(self.cell_height * 24) + 1)

    def cell_at(self, point: QPoint | QPointF) -> Cell:
        rows, columns = self.session.size if self.session is not None else self.grid_size()
        row = min(max(int(point.y() // self.cell_height), 0), rows - 1)
        column = min(max(int(point.x() // self.cell_width), 0), columns - 1)
        return row, column

    def _row_rect(self, row: int) -> QRect:
        top = int(row * self.cell_height)
        return QRect(0, top, self.width(), int(self.cell_height) + 2)

    # -- the session ------------------------------------------------------------------------

    def set_session(self, session: TerminalSession | None) -> None:
        self.session = session
        self.clear_selection()
        self.update()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._measure()
            if self.session is not None:
                self.session.resize(*self.grid_size())
            self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.session is not None:
            self.session.resize(*self.grid_size())

    def lines_changed(self, rows: frozenset[int]) -> None:
        """Repaint the rows the session reports, and the cursor's old and new rows."""
        if self.session is None:
            return
        cursor_row = self.session.screen.cursor.y
        for row in {*rows, self._cursor_row, cursor_row}:
            self.update(self._row_rect(row))
        self._cursor_row = cursor_row

    # -- painting ---------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        palette = self.palette()
        background = palette.color(QPalette.ColorRole.Base)
        foreground = palette.color(QPalette.ColorRole.Text)
        painter.fillRect(event.rect(), background)
        session = self.session
        if session is None:
            return
        screen = session.screen
        first = max(int(event.rect().top() // self.cell_height), 0)
        last = min(int(event.rect().bottom() // self.cell_height), screen.lines - 1)
        for row in range(first, last + 1):
            self._paint_row(painter, row, foreground, background)
        cursor = screen.cursor
        if not cursor.hidden and not session.finished and first <= cursor.y <= last:
            rect = QRectF(
                cursor.x * self.cell_width, cursor.y * self.cell_height,
                self.cell_width, self.cell_height,
            )  # fmt: skip
            painter.setFont(self.font())
            if self.hasFocus():
                painter.fillRect(rect, foreground)
                char = screen.buffer[cursor.y][cursor.x].data
                painter.setPen(background)
                painter.drawText(QPointF(rect.left(), rect.top() + self._ascent), char)
            else:
                painter.setPen(foreground)
                painter.drawRect(rect.adjusted(0.5, 0.5, -0.5, -0.5))
        painter.end()

    def _paint_row(self, painter: QPainter, row: int, fg: QColor, bg: QColor) -> None:
        """The row in runs of cells that look the same: one fill and one text draw each."""
        assert self.session is not None
        screen = self.session.screen
        line = screen.buffer[row]
        top = row * self.cell_height
        start = 0
        run: list[str] = []
        style: tuple[object, ...] | None = None
        for column in range(screen.columns + 1):
            char = line[column] if column < screen.columns else None
            key = None
            if char is not None:
                selected = self.is_selected((row, column))
                key = (char.fg, char.bg, char.bold, char.italics, char.underscore,
                       char.strikethrough, char.reverse != selected)  # fmt: skip
            if key != style or char is None:
                if style is not None:
                    self._paint_run(painter, style, "".join(run), start, top, fg, bg)
                style, start, run = key, column, []
            if char is not None:
                run.append(char.data)

    def _paint_run(
        self,
        painter: QPainter,
        style: tuple[object, ...],
        text: str,
        column: int,
        top: float,
        fg: QColor,
        bg: QColor,
    ) -> None:
        fg_name, bg_name, bold, italics, underscore, strikethrough, reverse = style
        front, back = colour(str(fg_name), fg), colour(str(bg_name), bg)
        if reverse:
            front, back = back, front
        left = column * self.cell_width
        width = max(len(text), 1) * self.cell_width
        painter.fillRect(QRectF(left, top, width, self.cell_height), back)
        if not text.strip():
            return
        font = QFont(self.font())
        font.setBold(bool(bold))
        font.setItalic(bool(italics))
        font.setUnderline(bool(underscore))
        font.setStrikeOut(bool(strikethrough))
        painter.setFont(font)
        painter.setPen(front)
        painter.drawText(QPointF(left, top + self._ascent), text)

    # -- keys -------------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        # Every key belongs to the shell while the terminal has focus, including those the
        # window would take as shortcuts (Ctrl+W, Escape …).
        if event.type() == QEvent.Type.ShortcutOverride:
            event.accept()
            return True
        return super().event(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        return False  # Tab completes in the shell, it does not move the focus

    def keyPressEvent(self, event: QKeyEvent) -> None:
        wanted = shortcut(event.key(), event.modifiers())
        if wanted is Shortcut.COPY:
            self.copy()
        elif wanted is Shortcut.PASTE:
            self.paste()
        elif self.session is not None:
            data = key_bytes(
                event.key(), event.modifiers(), event.text(), self.session.application_cursor
            )
            if data and self.session.send(data):
                self.clear_selection()
        event.accept()

    def inputMethodEvent(self, event: QInputMethodEvent) -> None:
        # Text composed with an input method (CJK, dead keys on some platforms) arrives here.
        text = event.commitString()
        if text and self.session is not None:
            self.session.send(text.encode())
        event.accept()

    def copy(self) -> str:
        """Put the selected text on the clipboard; the text."""
        text = self.selected_text()
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def paste(self) -> bool:
        text = QGuiApplication.clipboard().text()
        return bool(text) and self.session is not None and self.session.paste(text)

    # -- selection --------------------------------------------------------------------------

    def selection(self) -> tuple[Cell, Cell] | None:
        """The selected cells, first and last (inclusive), in reading order."""
        if self._anchor is None or self._caret is None or self._anchor == self._caret:
            return None
        first, last = sorted((self._anchor, self._caret))
        return first, last

    def is_selected(self, cell: Cell) -> bool:
        chosen = self.selection()
        return chosen is not None and chosen[0] <= cell <= chosen[1]

    def select(self, first: Cell, last: Cell) -> None:
        self._anchor, self._caret = first, last
        self.update()

    def clear_selection(self) -> None:
        if self._anchor is not None:
            self._anchor = self._caret = None
            self.update()

    def selected_text(self) -> str:
        chosen = self.selection()
        if chosen is None or self.session is None:
            return ""
        (top, left), (bottom, right) = chosen
        lines = self.session.screen.display
        parts = []
        for row in range(top, bottom + 1):
            start = left if row == top else 0
            end = right + 1 if row == bottom else len(lines[row])
            parts.append(lines[row][start:end].rstrip())
        return "\n".join(parts)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clear_selection()
            self._anchor = self._caret = self.cell_at(event.position())
        elif event.button() == Qt.MouseButton.MiddleButton:
            clipboard = QGuiApplication.clipboard()
            text = clipboard.text(clipboard.Mode.Selection) or clipboard.text()
            if text and self.session is not None:
                self.session.paste(text)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._anchor is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self._caret = self.cell_at(event.position())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        text = self.selected_text()
        clipboard = QGuiApplication.clipboard()
        if text and clipboard.supportsSelection():
            clipboard.setText(text, clipboard.Mode.Selection)
        super().mouseReleaseEvent(event)
