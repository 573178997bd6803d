"""``--cache-from``: steps found in the history of given images, as the classic builder
finds them.

An image pulled from a registry has no parents here and no build cache entries, only its
history. A step can still be taken from it when the history up to the step's parent is the
same and the next entry was made by the same step: the step's image is then the parent plus
that entry's layer (already stored with the source image), with the config the builder would
have made. At the source's last entry, the source image itself is the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.images.store import ImageRecord


@dataclass(frozen=True)
class SourceStep:
    source: ImageRecord
    diff_id: str | None  # the step's layer, None for a config-only step
    whole: bool  # the step is the source's last: the source image is the result


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a.get("created_by"), bool(a.get("empty_layer"))) == (
        b.get("created_by"),
        bool(b.get("empty_layer")),
    )


def find_step(
    sources: list[ImageRecord],
    parent: ImageRecord | None,
    created_by: str,
    config: dict[str, Any],
) -> SourceStep | None:
    """The first source whose history continues ``parent``'s with ``created_by``."""
    parent_history = list(parent.config.get("history") or []) if parent else []
    parent_layers = parent.diff_ids if parent else []
    done = len(parent_history)
    for source in sources:
        history = source.config.get("history") or []
        if len(history) <= done or history[done].get("created_by") != created_by:
            continue
        if not all(_same(a, b) for a, b in zip(history[:done], parent_history, strict=True)):
            continue
        layers = sum(1 for entry in history[:done] if not entry.get("empty_layer"))
        if source.diff_ids[:layers] != parent_layers:
            continue
        whole = done + 1 == len(history) and (source.config.get("config") or {}) == config
        if history[done].get("empty_layer"):
            return SourceStep(source, None, whole)
        if layers < len(source.diff_ids):
            return SourceStep(source, source.diff_ids[layers], whole)
    return None
