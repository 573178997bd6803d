"""What the volume dialog asks for, checked and turned into a ``/volumes/create`` body — the
body `docker volume create --driver D --label K=V --opt K=V NAME` sends."""

from __future__ import annotations

import re
from dataclasses import dataclass

# dockerd's volume name rule (volume/local: validName).
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


class VolumeConfigError(ValueError):
    """Something the user typed that cannot make a volume; the message says what and where."""


def parse_pairs(text: str, what: str, empty_values: bool) -> dict[str, str]:
    """``KEY=value`` lines (blank lines and ``#`` comments skipped); values keep their commas
    (``o=size=64m,uid=1000``). A bare ``KEY`` is an empty value where ``empty_values`` allows
    it (labels), else an error (driver options, as ``--opt`` wants them)."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not key or any(c.isspace() for c in key):
            raise VolumeConfigError(f"{what} {item!r}: expected KEY=value")
        if not sep and not empty_values:
            raise VolumeConfigError(f"{what} {item!r}: expected KEY=value")
        pairs[key] = value.strip()
    return pairs


@dataclass
class VolumeRequest:
    name: str = ""
    driver: str = "local"
    labels_text: str = ""
    options_text: str = ""

    def to_create_body(self) -> dict[str, object]:
        """The ``/volumes/create`` body, or ``VolumeConfigError`` for bad input."""
        name = self.name.strip()
        if name and not _NAME.match(name):
            raise VolumeConfigError(
                f"{name!r} is not a valid volume name: use letters, digits and _.- "
                "(at least two characters, the first a letter or digit)"
            )
        return {
            "Name": name,
            "Driver": self.driver.strip() or "local",
            "DriverOpts": parse_pairs(self.options_text, "driver option", empty_values=False),
            "Labels": parse_pairs(self.labels_text, "label", empty_values=True),
        }
