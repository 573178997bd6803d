"""Prints what the reliability suite measured: faults injected and survived, fuzz cases,
load held, leaks after many cycles."""

from __future__ import annotations

import pytest

from tests.reliability.summary import ROWS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    reporter = terminalreporter
    reporter.section("reliability summary")
    width = max(len(item) for _, item, _ in ROWS)
    section = None
    for name, item, value in ROWS:
        if name != section:
            reporter.write_line(f"{name}:")
            section = name
        reporter.write_line(f"  {item.ljust(width)}  {value}")
