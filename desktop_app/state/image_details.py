"""Pure translators for the image actions' answers: ``docker history`` rows, new names for
``docker tag``, and what a prune reclaimed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from desktop_app.state.rows import format_created, human_size, short_id
from doca.cli.registry_commands import parse_reference

# dockerd's classic builder writes non-RUN steps as "/bin/sh -c #(nop)  ENV A=1".
_NOP = "/bin/sh -c #(nop)"


class TagError(ValueError):
    """A name ``docker tag`` would refuse; the message is the docker CLI's."""


@dataclass(frozen=True)
class HistoryRow:
    key: str  # position in the history: layers may share the ID "<missing>"
    id: str
    created: str
    created_by: str
    size: str
    comment: str


def created_by(command: str) -> str:
    """The step as `docker history` shows it: a non-RUN step without its ``#(nop)`` shell."""
    text = " ".join(command.split())
    return text.removeprefix(_NOP).strip()


def history_rows(history: Iterable[dict[str, Any]]) -> list[HistoryRow]:
    """Newest step first, as the engine lists them."""
    rows = []
    for position, step in enumerate(history):
        layer = str(step.get("Id") or "<missing>")
        rows.append(
            HistoryRow(
                key=str(position),
                id=layer if layer == "<missing>" else short_id(layer),
                created=format_created(step.get("Created")),
                created_by=created_by(str(step.get("CreatedBy") or "")),
                size=human_size(step.get("Size") or 0),
                comment=str(step.get("Comment") or ""),
            )
        )
    return rows


def tag_target(text: str) -> tuple[str, str]:
    """(repo, tag) of a new name for an image: ``latest`` when no tag is given."""
    name = text.strip()
    if not name:
        raise TagError("type a name, e.g. registry.example:5000/team/app:1")
    if "@" in name:
        raise TagError("refusing to create a tag with a digest reference")
    try:
        parse_reference(name)
    except ValueError as exc:
        raise TagError(str(exc)) from None
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, "latest"


def needs_force(message: str) -> bool:
    """Whether the engine refused a removal that force would make (dockerd's "must be forced";
    an image a running container uses "cannot be forced")."""
    return "(must be forced)" in message or "(must force)" in message


def prune_summary(what: str, answer: dict[str, Any], deleted_key: str) -> str:
    """``Removed 3 images, reclaimed 12.3MB`` from a prune's answer. An image prune lists
    untagged names too: only its ``Deleted`` entries are removed images."""
    items = answer.get(deleted_key) or []
    count = sum(1 for item in items if not isinstance(item, dict) or "Deleted" in item)
    freed = human_size(answer.get("SpaceReclaimed") or 0)
    noun = what if count != 1 else what.removesuffix("s")
    return f"Removed {count} {noun}, reclaimed {freed}"
