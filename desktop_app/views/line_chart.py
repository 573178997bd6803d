"""``LineChart``: a small live chart of the last samples of one number, drawn with QPainter (the
newest sample at the right edge), with a title and the current value above it."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop_app.state.container_stats import HISTORY

LINE = QColor("#1e88e5")
FILL = QColor(30, 136, 229, 50)
GRID = QColor(128, 128, 128, 70)


class LineChart(QWidget):
    def __init__(self, title: str, capacity: int = HISTORY, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.capacity = capacity
        self.values: list[float] = []
        self.maximum = 1.0
        self.caption = ""
        self.setMinimumSize(260, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_values(self, values: Sequence[float], maximum: float, caption: str) -> None:
        """Show the last ``capacity`` of ``values`` on a scale from 0 to ``maximum``."""
        self.values = list(values)[-self.capacity :]
        self.maximum = maximum if maximum > 0 else 1.0
        self.caption = caption
        self.update()

    def points(self, plot: QRectF) -> list[QPointF]:
        """Where the samples go in ``plot``: evenly spaced, the newest at its right edge."""
        if not self.values:
            return []
        step = plot.width() / max(self.capacity - 1, 1)
        first_x = plot.right() - step * (len(self.values) - 1)
        return [
            QPointF(
                first_x + step * i,
                plot.bottom() - min(max(value / self.maximum, 0.0), 1.0) * plot.height(),
            )
            for i, value in enumerate(self.values)
        ]

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            palette = self.palette()
            frame = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
            painter.fillRect(frame, palette.base())
            painter.setPen(QPen(palette.mid().color()))
            painter.drawRect(frame)
            text_height = self.fontMetrics().height()
            painter.setPen(palette.text().color())
            header = frame.adjusted(6, 4, -6, 0)
            header.setHeight(text_height)
            painter.drawText(header, Qt.AlignmentFlag.AlignLeft, self.title)
            painter.drawText(header, Qt.AlignmentFlag.AlignRight, self.caption)
            plot = frame.adjusted(6, text_height + 10, -6, -6)
            painter.setPen(QPen(GRID, 1, Qt.PenStyle.DashLine))
            for fraction in (0.25, 0.5, 0.75):
                y = plot.bottom() - fraction * plot.height()
                painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            points = self.points(plot)
            if len(points) < 2:
                return
            bottom = plot.bottom()
            corners = (QPointF(points[0].x(), bottom), QPointF(plot.right(), bottom))
            area = QPolygonF([corners[0], *points, corners[1]])
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(FILL)
            painter.drawPolygon(area)
            painter.setPen(QPen(LINE, 1.5))
            painter.drawPolyline(QPolygonF(points))
        finally:
            painter.end()
