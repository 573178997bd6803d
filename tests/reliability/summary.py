"""Figures the reliability tests report; the package's conftest prints them as one table."""

from __future__ import annotations

#: (section, item, value) rows, in the order the tests recorded them.
ROWS: list[tuple[str, str, str]] = []


def record(section: str, item: str, value: str) -> None:
    """Add one row to the reliability summary table."""
    ROWS.append((section, item, value))
