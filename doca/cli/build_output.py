"""What a classic build shows, shared by ``doca build`` and ``doca compose build``: the context
upload line, the engine's stream as jsonmessage prints it when stdout is not a terminal (or
drawn live on one), and the credentials sent along for the Dockerfile's pulls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from doca.cli import formatting
from doca.cli.progress_display import LiveProgress, progress_line
from doca.client.build_options import registry_config_header
from doca.credhelper import dockerconfig as dc
from doca.credhelper.helpers import HelperError

UPLOAD_ACTION = "Sending build context to Docker daemon"


def upload_line(size: int) -> str:
    """The context upload's last progress update, as the docker CLI prints it (go-units'
    HumanSize right-aligned in eight columns, then ``\\r``, then the closing ``\\r\\n``)."""
    return f"{UPLOAD_ACTION} {formatting.human_size(size, 4):>8}\r\r\n"


def registry_config() -> str:
    """``X-Registry-Config`` with every login the docker CLI's config knows; as the docker CLI,
    a config or helper that fails sends none rather than failing the build."""
    try:
        return registry_config_header(dc.all_auth_configs())
    except (dc.ConfigError, HelperError, OSError):
        return registry_config_header({})


async def show_build(
    messages: AsyncIterator[dict[str, Any]], out: Callable[[str], object],
    display: LiveProgress | None = None,
) -> str:  # fmt: skip
    """Write a build's messages with ``out``, or draw them on ``display``; the built image's ID
    from its ``aux`` message. A failed step raises the stream's StreamError once the output
    before it was shown."""
    image_id = ""
    async for message in messages:
        aux = message.get("aux")
        if isinstance(aux, dict):
            image_id = str(aux.get("ID") or image_id)
            continue
        if display is not None:
            display.feed(message)
            continue
        line = progress_line(message)
        if line is not None:
            out(line)
    return image_id
