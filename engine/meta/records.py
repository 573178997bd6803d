"""Reading a directory of JSON records, one file per object, skipping any that is unreadable."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from engine.meta.atomic import read_json

T = TypeVar("T")

log = logging.getLogger(__name__)


def read_records(directory: Path, parse: Callable[[Any], T], kind: str) -> Iterator[T]:
    """Each ``*.json`` record in ``directory``, in name order, as ``parse`` makes it; a file
    that cannot be read or parsed is logged and skipped, never fatal."""
    for path in sorted(directory.glob("*.json")):
        try:
            yield parse(read_json(path))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring unreadable %s %s: %s", kind, path.name, exc)
