"""RUN: the command in a container made from the stage's image, its output relayed to the
client, its changes committed as the next layer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.build.options import BuildOptions, host_config
from engine.build.stage import Stage
from engine.containers.filesystem import MOUNT_POINTS
from engine.containers.io import container_logs
from engine.containers.model import ContainerRecord
from engine.containers.service import BUILD_STEP_LABEL, ContainerService
from engine.errors import Conflict, EngineError, NotFound

Emit = Callable[[dict[str, Any]], None]


PROXY_ARGS = frozenset(
    {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
     "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}
)  # fmt: skip


class StepFailed(EngineError):
    """A RUN exited non-zero; ``code`` becomes the client's exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def created_by(stage: Stage, command: list[str]) -> str:
    """The history text of a RUN: build args it saw come first, as ``|2 A=1 B=2 …``."""
    args = stage.run_args()
    prefix = ""
    if args:
        prefix = f"|{len(args)} " + " ".join(sorted(f"{k}={v}" for k, v in args.items())) + " "
    return prefix + " ".join(command)


def container_body(stage: Stage, command: list[str], options: BuildOptions) -> dict[str, Any]:
    config = stage.config
    args = stage.run_args()
    # Proxy settings reach RUN without an ARG, and stay out of the history (as Docker's).
    proxies = {
        k: v
        for k, v in options.build_args.items()
        if k in PROXY_ARGS and v is not None and k not in args and k not in stage.env
    }
    env = [*(config.get("Env") or []), *(f"{k}={v}" for k, v in {**proxies, **args}.items())]
    return {
        "Image": stage.image_id,
        "Cmd": command,
        "Entrypoint": [],
        "Env": env,
        "WorkingDir": config.get("WorkingDir") or "",
        "User": config.get("User") or "",
        "Volumes": config.get("Volumes"),
        "Healthcheck": {"Test": ["NONE"]},
        "Labels": {BUILD_STEP_LABEL: ""},
        "AttachStdout": True,
        "AttachStderr": True,
        "HostConfig": host_config(options),
    }


async def run_command(
    containers: ContainerService,
    stage: Stage,
    command: list[str],
    options: BuildOptions,
    emit: Emit,
) -> ContainerRecord:
    """Run ``command``; the finished container is returned for committing (the caller
    removes it). Raises ``StepFailed`` (after removing it when asked) if it fails."""
    record = await containers.create(None, container_body(stage, command, options))
    emit({"stream": f" ---> Running in {record.id[:12]}\n"})
    lifecycle = containers.lifecycle
    exit_code = lifecycle.next_exit(record.id)
    try:
        await containers.start(record.id)
        output = container_logs(
            lifecycle, record, stdout=True, stderr=True, follow=True,
            since_ns=None, until_ns=None, tail=None, timestamps=False,
        )  # fmt: skip
        async for _stream, data in output:
            emit({"stream": data.decode("utf-8", "replace")})
        code = await exit_code
    except BaseException:
        exit_code.cancel()
        await remove(containers, record, options)
        raise
    if code != 0:
        await remove(containers, record, options)
        raise StepFailed(
            f"The command '{' '.join(command)}' returned a non-zero code: {code}", code
        )
    return record


async def remove(
    containers: ContainerService, record: ContainerRecord, options: BuildOptions
) -> None:
    """Remove a step's container unless ``rm=false``. A failed step's container goes too
    (dockerd keeps it without ``forcerm``), so a failed build leaves nothing behind."""
    if not (options.force_remove or options.remove):
        return
    with contextlib.suppress(NotFound, Conflict):
        await containers.remove(record.id, force=True, volumes=True)


def changes_of(containers: ContainerService, record: ContainerRecord) -> Path:
    """The container's overlay upper directory: the RUN's changes."""
    return containers.lifecycle.paths(record).upper


# The files the runtime bind-mounts into every container are not the RUN's changes.
SKIP = MOUNT_POINTS
