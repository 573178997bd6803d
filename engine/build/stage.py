"""What a build stage carries from one instruction to the next."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.images.store import ImageRecord

DEFAULT_SHELL = ["/bin/sh", "-c"]


@dataclass
class Stage:
    index: int
    name: str  # the lower-cased ``AS name``, or ""
    base_name: str  # what FROM named, after substitution
    image: ImageRecord | None = None  # None while building FROM scratch with no layer yet
    config: dict[str, Any] = field(default_factory=dict)  # the image's container config
    # ARGs declared in this stage: name -> value (None: declared without a value)
    args: dict[str, str | None] = field(default_factory=dict)
    cmd_set: bool = False  # a CMD was given in this stage (ENTRYPOINT then keeps it)
    author: str = ""  # MAINTAINER

    @property
    def image_id(self) -> str:
        return self.image.id if self.image else ""

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    @property
    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for entry in self.config.get("Env") or []:
            key, _, value = entry.partition("=")
            env[key] = value
        return env

    def expansion_env(self) -> dict[str, str]:
        """What ``$VAR`` means in this stage's instructions: its ARGs, overridden by ENV."""
        values = {k: v for k, v in self.args.items() if v is not None}
        return {**values, **self.env}

    def run_args(self) -> dict[str, str]:
        """Build args a RUN sees in its environment (those ENV does not shadow)."""
        env = self.env
        return {k: v for k, v in self.args.items() if v is not None and k not in env}

    def set_env(self, key: str, value: str) -> None:
        """Replace ``key`` where it stands (as Docker does), or add it at the end."""
        env = list(self.config.get("Env") or [])
        entry = f"{key}={value}"
        for index, existing in enumerate(env):
            if existing.partition("=")[0] == key:
                env[index] = entry
                break
        else:
            env.append(entry)
        self.config["Env"] = env
