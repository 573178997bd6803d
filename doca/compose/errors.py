"""The one error of the compose loader: it names the file, the line and the key at fault."""

from __future__ import annotations


class ComposeError(Exception):
    """An invalid compose project; ``str()`` is the message shown to the user."""

    def __init__(
        self, message: str, file: str | None = None, line: int | None = None, key: str = ""
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        super().__init__(f"{where}{key + ': ' if key else ''}{message}")
