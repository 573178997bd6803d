"""``StatsView``: a container's CPU and memory over the last minute, and its current numbers, as
`docker stats` reports them. It follows the stats stream while the container runs: the stream is
stopped when the container stops (or the view is closed) and started again when it runs."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop_app.state.container_stats import (
    StatsHistory,
    StatsReading,
    binary_size,
    cpu_scale,
    follow_stats,
    memory_scale,
)
from desktop_app.state.resources import ContainersStore
from desktop_app.state.rows import human_size
from desktop_app.tasks import TaskOwner
from desktop_app.views.line_chart import LineChart
from desktop_app.views.prompts import failure_text
from doca.client import EngineClient


class StatsView(QWidget):
    def __init__(
        self,
        client: EngineClient,
        containers: ContainersStore,
        container_id: str,
        tasks: TaskOwner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._client = client
        self._containers = containers
        self._container_id = container_id
        self._tasks = tasks
        self._stream: asyncio.Task[None] | None = None
        self.history = StatsHistory()
        self.state = QLabel()
        self.cpu_chart = LineChart("CPU")
        self.memory_chart = LineChart("Memory")
        self.cpu_text = QLabel("--")
        self.memory_text = QLabel("--")
        self.net_text = QLabel("--")
        self.block_text = QLabel("--")
        self.pids_text = QLabel("--")
        charts = QHBoxLayout()
        charts.addWidget(self.cpu_chart)
        charts.addWidget(self.memory_chart)
        numbers = QFormLayout()
        numbers.addRow("CPU", self.cpu_text)
        numbers.addRow("Memory (usage / limit)", self.memory_text)
        numbers.addRow("Network I/O (received / sent)", self.net_text)
        numbers.addRow("Block I/O (read / written)", self.block_text)
        numbers.addRow("Processes", self.pids_text)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state)
        layout.addLayout(charts, 1)
        layout.addLayout(numbers)
        self._unsubscribe = containers.add_listener(self._containers_changed)

    @property
    def following(self) -> bool:
        return self._stream is not None and not self._stream.done()

    def _running(self) -> bool:
        row = self._containers.find(self._container_id)
        return row is not None and row.get("State") == "running"

    def follow(self) -> asyncio.Task[None] | None:
        """Follow the stats stream if the container runs; the stream's task, or None."""
        if self.following:
            return self._stream
        if not self._running():
            self.state.setText("Not running: no live numbers.")
            return None
        self.state.setText("Live")
        self._stream = self._tasks.spawn(self._follow(), name="stats", on_error=self._failed)
        return self._stream

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None

    async def _follow(self) -> None:
        await follow_stats(self._client, self._container_id, self.history, self._show)
        self.state.setText("The container stopped.")

    def _failed(self, exc: BaseException) -> None:
        self.state.setText(f"Cannot read the stats: {failure_text(exc)}")

    def _containers_changed(self) -> None:
        running = self._running()
        if running and not self.following:
            self.follow()
        elif not running and self.following:
            self.stop()
            self.state.setText("The container stopped.")

    def _show(self, reading: StatsReading) -> None:
        cpu = f"{reading.cpu_percent:.2f}%"
        memory = f"{binary_size(reading.memory_usage)} / {binary_size(reading.memory_limit)}"
        self.cpu_text.setText(cpu)
        self.memory_text.setText(f"{memory} ({reading.memory_percent:.2f}%)")
        self.net_text.setText(f"{human_size(reading.net_rx)} / {human_size(reading.net_tx)}")
        self.block_text.setText(
            f"{human_size(reading.block_read)} / {human_size(reading.block_write)}"
        )
        self.pids_text.setText(str(reading.pids))
        cpu_values = self.history.cpu_series()
        self.cpu_chart.set_values(cpu_values, cpu_scale(cpu_values), cpu)
        memory_values = self.history.memory_series()
        top = memory_scale(memory_values, reading.memory_limit)
        self.memory_chart.set_values(memory_values, top, binary_size(reading.memory_usage))

    def detach(self) -> None:
        """Stop following the stream and the container's state (the view is going away)."""
        self.stop()
        self._unsubscribe()
