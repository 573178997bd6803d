"""The images a project's services run, got as Compose v2 gets them before creating containers:
present ones kept, missing ones pulled, and services with ``build:`` built by the classic
builder when their image is missing (after a failed pull, when it names one) or when asked."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from doca.cli.build_output import registry_config, show_build, upload_line
from doca.cli.registry_commands import Reference, parse_reference
from doca.client import EngineClient, EngineError, EngineUnavailable, NotFound
from doca.client.build_context import ContextError, local_context, write_context
from doca.compose.build_config import BuildFlags, build_request
from doca.compose.errors import ComposeError
from doca.compose.project import Project
from doca.credhelper import dockerconfig as dc
from doca.credhelper.helpers import HelperError

Report = Callable[[str], None]
Output = Callable[[str], object]


async def local_image_id(client: EngineClient, image: str) -> str | None:
    try:
        return str((await client.images.inspect(image))["Id"])
    except NotFound:
        return None


async def pull_image(client: EngineClient, image: str, report: Report) -> str:
    """Pull ``image`` with the docker CLI's credentials for its registry; its ID."""
    report(f" Image {image}  Pulling")
    reference = _reference(image)
    tag = reference.digest or reference.tag or "latest"
    async for _ in client.images.pull(reference.familiar_name, tag, auth=_auth(reference)):
        pass
    report(f" Image {image}  Pulled")
    return str((await client.images.inspect(image))["Id"])


def _reference(image: str) -> Reference:
    try:
        return parse_reference(image)
    except ValueError as error:
        raise ComposeError(str(error)) from None


def _auth(reference: Reference) -> str | None:
    try:
        return dc.auth_header_value(reference.domain)
    except (dc.ConfigError, HelperError) as error:
        raise ComposeError(str(error)) from None


async def pull_services(
    client: EngineClient, project: Project, names: list[str], report: Report
) -> None:
    """``compose pull``: each service's image; a service that can be built may fail to pull
    (with a warning), others end the command."""
    for image in dict.fromkeys(project.image_name(n) for n in names):
        buildable = any("build" in project.services[n] and project.image_name(n) == image
                        for n in names)  # fmt: skip
        try:
            await pull_image(client, image, report)
        except EngineUnavailable:
            raise
        except EngineError as error:
            if not buildable:
                raise ComposeError(error.message) from None
            report(f" Image {image}  Warning {error.message}")


async def push_services(
    client: EngineClient, project: Project, names: list[str], report: Report,
    ignore_failures: bool = False,
) -> None:  # fmt: skip
    """``compose push``: the images of services that name one (``image:``)."""
    for image in dict.fromkeys(project.services[n]["image"] for n in names
                               if project.services[n].get("image")):  # fmt: skip
        reference = _reference(image)
        report(f" Image {image}  Pushing")
        try:
            async for _ in client.images.push(reference.familiar_name, reference.tag or "latest",
                                              auth=_auth(reference)):  # fmt: skip
                pass
        except EngineUnavailable:
            raise
        except EngineError as error:
            if not ignore_failures:
                raise ComposeError(error.message) from None
            report(f" Image {image}  Warning {error.message}")
            continue
        report(f" Image {image}  Pushed")


def _write_context(archive: Path, context: str, dockerfile: str) -> str:
    """The service's context as Compose sends it (gzip-compressed); its Dockerfile's name."""
    if not os.path.exists(context):
        raise ComposeError(f'unable to prepare context: path "{context}" not found')
    try:
        with archive.open("wb") as out:
            return write_context(out, local_context(context, dockerfile), compress=True)
    except ContextError as error:
        raise ComposeError(str(error)) from None


async def build_service(
    client: EngineClient, project: Project, name: str, flags: BuildFlags, output: Output
) -> str:
    """Build service ``name``'s image, writing the build's output; its ID. A failed step
    raises the engine's StreamError."""
    request = build_request(project, name, flags)
    with tempfile.TemporaryDirectory(prefix="doca-compose-build-") as scratch:
        archive = Path(scratch) / "context.tar.gz"
        request.options.dockerfile = await asyncio.to_thread(
            _write_context, archive, request.context, request.dockerfile
        )
        output(upload_line(archive.stat().st_size))
        auth = await asyncio.to_thread(registry_config)
        return await show_build(client.images.build(archive, request.options, auth), output)


async def build(
    client: EngineClient,
    project: Project,
    names: list[str],
    report: Report,
    output: Output,
    flags: BuildFlags,
) -> dict[str, str]:
    """Build the services ``names`` that have ``build:``, in order; service → image ID."""
    built: dict[str, str] = {}
    for name in names:
        if "build" not in project.services[name]:
            continue
        report(f" Service {name}  Building")
        built[name] = await build_service(client, project, name, flags, output)
        report(f" Service {name}  Built")
    for name in built:
        report(f" {name}  Built")
    return built


async def ensure_images(
    client: EngineClient,
    project: Project,
    names: list[str],
    report: Report,
    output: Output,
    flags: BuildFlags | None,
    force_build: bool = False,
) -> dict[str, str]:
    """Service → image ID for ``names``. ``flags`` None (``up --no-build``) builds nothing: a
    service whose image is missing is left out, and creating its container fails as it does
    with Compose; ``force_build`` (``up --build``) rebuilds every service with ``build:``."""
    ids: dict[str, str] = {}
    to_build: list[str] = []
    for name in names:
        service = project.services[name]
        if "image" not in service and "build" not in service:
            raise ComposeError(f'invalid service "{name}". Must specify either image or build')
        image = project.image_name(name)
        found = await local_image_id(client, image)
        buildable = "build" in service and flags is not None
        if found is not None and not (buildable and force_build):
            ids[name] = found
        elif "build" not in service:
            ids[name] = await pull_image(client, image, report)
        elif buildable and "image" in service and found is None and not force_build:
            try:
                ids[name] = await pull_image(client, image, report)
            except EngineUnavailable:
                raise
            except EngineError as error:  # the image can be built instead
                report(f" {name} Warning {error.message}")
                to_build.append(name)
        elif buildable:
            to_build.append(name)
    if to_build:
        assert flags is not None
        ids.update(await build(client, project, to_build, report, output, flags))
    return ids
