"""One ``docker build``: the Dockerfile's stages run in order, each step an image.

Every step makes an image whose parent is the previous step's (as the classic builder does,
so ``docker images -a`` shows them and ``docker rmi`` takes them along). Before doing a step
the builder looks its key up in the build cache; a hit reuses the image it made before.
"""

from __future__ import annotations

import asyncio
import copy
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.build import file_steps, run_step
from engine.build.cache import BuildCache, step_key
from engine.build.dockerfile import (
    Dockerfile,
    DockerfileError,
    Instruction,
    arg_definitions,
    parse,
    parse_flags,
)
from engine.build.metadata import HANDLERS, command
from engine.build.options import BuildOptions
from engine.build.stage import Stage
from engine.build.words import Words
from engine.build.workspace import readonly, writable
from engine.containers.rootpath import resolve_in_root
from engine.containers.service import ContainerService
from engine.errors import EngineError, InvalidParameter, NotFound
from engine.images.commit import layer_from_upper, new_image
from engine.images.reference import Reference, parse_reference
from engine.images.service import ImageService
from engine.images.store import ImageRecord

Emit = Callable[[dict[str, Any]], None]
# Pulls an image for FROM or COPY --from; returns its ID.
Pull = Callable[[str], Awaitable[str]]

COPY_FLAGS: dict[str, type] = {"from": str, "chown": str, "chmod": str, "link": bool}
ADD_FLAGS: dict[str, type] = {"chown": str, "chmod": str, "link": bool, "checksum": str}
RUN_FLAGS: dict[str, type] = {"mount": list, "network": str, "security": str}
FROM_FLAGS: dict[str, type] = {"platform": str}


@dataclass
class BuildServices:
    images: ImageService
    containers: ContainerService
    cache: BuildCache
    scratch: Path  # on the data root's filesystem


def short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


class Builder:
    def __init__(
        self,
        services: BuildServices,
        options: BuildOptions,
        context_dir: Path,
        emit: Emit,
        pull: Pull,
    ) -> None:
        self.services = services
        self.images = services.images
        self.options = options
        self.context_dir = context_dir
        self._emit = emit
        self.pull = pull
        self.stages: list[Stage] = []
        self.global_args: dict[str, str | None] = {}
        self.used_args: set[str] = set()
        self.escape = "\\"
        self.step = 0
        self.total = 0

    # -- output ----------------------------------------------------------------------------

    def emit(self, text: str) -> None:
        if not self.options.quiet:
            self._emit({"stream": text})

    def _step(self, inst: Instruction) -> None:
        self.step += 1
        self.emit(f"Step {self.step}/{self.total} : {inst.original}\n")

    # -- the whole build -------------------------------------------------------------------

    def read_dockerfile(self) -> Dockerfile:
        name = self.options.dockerfile
        path = resolve_in_root(self.context_dir, name)
        try:
            text = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}") from exc
        try:
            return parse(text)
        except DockerfileError as exc:
            raise InvalidParameter(f"{name}:{exc.line}: {exc.message}") from exc

    async def build(self, dockerfile: Dockerfile) -> str:
        self.escape = dockerfile.escape
        meta, stages = self._split(dockerfile)
        last = self._target_index(stages)
        stages = stages[: last + 1]
        self.total = len(meta) + sum(len(s) for s in stages) + (1 if self.options.labels else 0)
        for inst in meta:
            self._step(inst)
            self._declare_global(inst)
        for index, instructions in enumerate(stages):
            stage = await self._from(index, instructions[0])
            self.stages.append(stage)
            for inst in instructions[1:]:
                self._step(inst)
                await self._dispatch(stage, inst)
        final = self.stages[-1]
        if self.options.labels:
            self.step += 1
            labels = " ".join(f'"{k}"="{v}"' for k, v in self.options.labels.items())
            self.emit(f"Step {self.step}/{self.total} : LABEL {labels}\n")
            merged = {**(final.config.get("Labels") or {}), **self.options.labels}
            final.config["Labels"] = merged
            await self._commit_config(final, f"LABEL {labels}")
        if final.image is None:
            raise InvalidParameter("No image was generated. Is your Dockerfile empty?")
        self._warn_unused_args()
        return final.image.id

    def _split(self, dockerfile: Dockerfile) -> tuple[list[Instruction], list[list[Instruction]]]:
        meta: list[Instruction] = []
        stages: list[list[Instruction]] = []
        for inst in dockerfile.instructions:
            if inst.keyword == "FROM":
                stages.append([inst])
            elif stages:
                stages[-1].append(inst)
            elif inst.keyword == "ARG":
                meta.append(inst)
            else:
                raise self._error(inst, "no build stage in current context")
        if not stages:
            raise InvalidParameter(f"{self.options.dockerfile}: no build stage in Dockerfile")
        return meta, stages

    def _target_index(self, stages: list[list[Instruction]]) -> int:
        target = self.options.target.lower()
        if not target:
            return len(stages) - 1
        for index, instructions in enumerate(stages):
            if self._stage_name(instructions[0]) == target:
                return index
        raise InvalidParameter(f"failed to reach build target {self.options.target} in Dockerfile")

    def _error(self, inst: Instruction, message: str) -> InvalidParameter:
        return InvalidParameter(f"{self.options.dockerfile}:{inst.line}: {message}")

    # -- ARG -------------------------------------------------------------------------------

    def _arg_value(self, name: str, default: str | None) -> str | None:
        if name in self.options.build_args and self.options.build_args[name] is not None:
            self.used_args.add(name)
            return self.options.build_args[name]
        if name in self.options.build_args:
            self.used_args.add(name)
        return default

    def _declare_global(self, inst: Instruction) -> None:
        words = Words(self.escape, {k: v for k, v in self.global_args.items() if v is not None})
        for name, default in arg_definitions(inst):
            value = words.word(default) if default is not None else None
            self.global_args[name] = self._arg_value(name, value)

    async def _arg(self, stage: Stage, inst: Instruction, words: Words) -> None:
        texts = []
        for name, default in arg_definitions(inst):
            if default is not None:
                value: str | None = words.word(default)
                texts.append(f"{name}={value}")
            else:
                value = self.global_args.get(name)
                texts.append(name)
            stage.args[name] = self._arg_value(name, value)
        await self._commit_config(stage, "ARG " + " ".join(texts))

    def _warn_unused_args(self) -> None:
        unused = sorted(set(self.options.build_args) - self.used_args - set(PREDEFINED_ARGS))
        if unused:
            self.emit(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n")

    # -- FROM ------------------------------------------------------------------------------

    def _stage_name(self, inst: Instruction) -> str:
        parts = inst.rest.split()
        if len(parts) == 3 and parts[1].lower() == "as":
            return parts[2].lower()
        return ""

    async def _from(self, index: int, inst: Instruction) -> Stage:
        self._step(inst)
        parse_flags(inst, FROM_FLAGS)
        parts = inst.rest.split()
        if len(parts) not in (1, 3) or (len(parts) == 3 and parts[1].lower() != "as"):
            raise self._error(inst, "FROM requires either one or three arguments")
        words = Words(self.escape, {k: v for k, v in self.global_args.items() if v is not None})
        base_name = words.word(parts[0])
        if not base_name:
            raise self._error(inst, "base name (" + parts[0] + ") should not be blank")
        stage = Stage(index, self._stage_name(inst), base_name)
        image = await self._base_image(base_name)
        if image is not None:
            stage.image = image
            stage.config = copy.deepcopy(image.config.get("config") or {})
            self.emit(f" ---> {short(image.id)}\n")
        triggers = stage.config.pop("OnBuild", None) or []
        if triggers:
            await self._run_triggers(stage, triggers)
        return stage

    def _stage_by_name(self, name: str) -> Stage | None:
        for stage in self.stages:
            if stage.name and stage.name == name.lower():
                return stage
        if name.isdigit() and int(name) < len(self.stages):
            return self.stages[int(name)]
        return None

    async def _base_image(self, name: str) -> ImageRecord | None:
        """A previous stage's result, nothing for ``scratch``, else an image (pulled when
        missing, or always with ``--pull``)."""
        stage = self._stage_by_name(name)
        if stage is not None and not name.isdigit():
            return stage.image
        if name.lower() == "scratch":
            return None
        return await self._image(name, self.options.pull)

    async def _image(self, name: str, always_pull: bool) -> ImageRecord:
        try:
            parse_reference(name)
        except EngineError as exc:
            raise InvalidParameter(f"invalid reference format: {name}") from exc
        if not always_pull:
            try:
                return self.images.resolve(name)
            except NotFound:
                pass
        image_id = await self.pull(name)
        return self.images.store.images[image_id]

    async def _run_triggers(self, stage: Stage, triggers: list[str]) -> None:
        noun = "trigger" if len(triggers) == 1 else "triggers"
        self.emit(f"# Executing {len(triggers)} build {noun}\n")
        for trigger in triggers:
            try:
                parsed = parse(trigger)
            except DockerfileError as exc:
                raise InvalidParameter(f"ONBUILD {trigger}: {exc.message}") from exc
            for inst in parsed.instructions:
                if inst.keyword in ("ONBUILD", "FROM", "MAINTAINER"):
                    raise InvalidParameter(f"{inst.keyword} isn't allowed as an ONBUILD trigger")
                await self._dispatch(stage, inst)

    # -- the other instructions ------------------------------------------------------------

    async def _dispatch(self, stage: Stage, inst: Instruction) -> None:
        words = Words(self.escape, stage.expansion_env())
        try:
            if inst.keyword == "ARG":
                await self._arg(stage, inst, words)
            elif inst.keyword == "RUN":
                await self._run(stage, inst)
            elif inst.keyword in ("COPY", "ADD"):
                await self._copy(stage, inst, words)
            elif inst.keyword == "WORKDIR":
                await self._workdir(stage, inst, words)
            elif inst.keyword in HANDLERS:
                description = HANDLERS[inst.keyword](stage, inst, words)
                await self._commit_config(stage, description)
            else:
                raise InvalidParameter(f"unknown instruction: {inst.keyword}")
        except DockerfileError as exc:
            raise self._error(inst, exc.message) from exc
        except InvalidParameter as exc:
            if exc.message.startswith(f"{self.options.dockerfile}:"):
                raise
            raise self._error(inst, exc.message) from exc

    def _reuse(self, stage: Stage, key: str) -> bool:
        if self.options.no_cache:
            return False
        image_id = self.services.cache.lookup(key, self.images.store.images)
        if image_id is None:
            return False
        self._adopt(stage, self.images.store.images[image_id])
        self.emit(" ---> Using cache\n")
        self.emit(f" ---> {short(image_id)}\n")
        return True

    def _adopt(self, stage: Stage, image: ImageRecord) -> None:
        stage.image = image
        stage.config = copy.deepcopy(image.config.get("config") or {})

    def _done(self, stage: Stage, key: str, parent: str, image_id: str, created_by: str) -> None:
        self.services.cache.record(key, image_id, parent, created_by)
        self._adopt(stage, self.images.store.images[image_id])
        self.emit(f" ---> {short(image_id)}\n")

    def _nop(self, stage: Stage, text: str) -> str:
        return " ".join(stage.shell) + " #(nop) " + text

    def _extra(self, stage: Stage) -> dict[str, Any]:
        return {"author": stage.author} if stage.author else {}

    async def _commit_config(self, stage: Stage, description: str) -> None:
        """A step that changes only the config: same layers, one more history entry."""
        created_by = self._nop(stage, " " + description)
        key = step_key(stage.image_id, created_by, stage.config)
        if self._reuse(stage, key):
            return
        parent = stage.image_id
        config = copy.deepcopy(stage.config)
        async with self.images.lock:
            image_id = await asyncio.to_thread(
                new_image, self.images, stage.image, config, {"created_by": created_by},
                extra=self._extra(stage),
            )  # fmt: skip
        self._done(stage, key, parent, image_id, created_by)

    async def _run(self, stage: Stage, inst: Instruction) -> None:
        flags = parse_flags(inst, RUN_FLAGS)
        if flags:
            raise InvalidParameter(
                f"RUN --{next(iter(flags))} needs BuildKit, which this engine does not offer"
            )
        if stage.image is None:
            raise InvalidParameter("RUN needs a base image with a shell; FROM scratch has none")
        argv = self._run_command(stage, inst)
        created_by = run_step.created_by(stage, argv)
        key = step_key(stage.image_id, created_by, stage.config)
        if self._reuse(stage, key):
            return
        containers = self.services.containers
        emit = self._emit if not self.options.quiet else (lambda _message: None)
        record = await run_step.run_command(containers, stage, argv, self.options, emit)
        parent = stage.image_id
        try:
            upper = run_step.changes_of(containers, record)
            async with self.images.lock:
                image_id = await asyncio.to_thread(self._commit_layer, stage, upper, created_by)
        finally:
            await run_step.remove(containers, record, self.options)
        if self.options.remove or self.options.force_remove:
            self.emit(f" ---> Removed intermediate container {record.id[:12]}\n")
        self._done(stage, key, parent, image_id, created_by)

    def _run_command(self, stage: Stage, inst: Instruction) -> list[str]:
        if inst.heredocs and inst.json is None:
            only = inst.heredocs[0]
            openers = {f"<<{q}{only.name}{q}" for q in ("", '"', "'")}
            if len(inst.heredocs) == 1 and inst.rest.strip().replace("<<-", "<<") in openers:
                return [*stage.shell, only.content]
            # Anything else: let the shell read the here-documents itself.
            script = inst.rest + "\n" + "".join(f"{h.content}{h.name}\n" for h in inst.heredocs)
            return [*stage.shell, script]
        return command(stage, inst)

    def _commit_layer(self, stage: Stage, upper: Path, created_by: str) -> str:
        diff_id = layer_from_upper(self.images, upper, run_step.SKIP)
        return new_image(
            self.images, stage.image, copy.deepcopy(stage.config), {"created_by": created_by},
            diff_id=diff_id, extra=self._extra(stage),
        )  # fmt: skip

    async def _copy(self, stage: Stage, inst: Instruction, words: Words) -> None:
        flags = parse_flags(inst, COPY_FLAGS if inst.keyword == "COPY" else ADD_FLAGS)
        if flags.get("checksum"):
            raise InvalidParameter("ADD --checksum is only supported for URL sources")
        plan, patterns = file_steps.plan_copy(inst, words, flags)
        source_image: ImageRecord | None = None
        from_context = not plan.from_
        if plan.from_:
            source_stage = self._stage_by_name(plan.from_)
            if source_stage is not None:
                source_image = source_stage.image
            elif plan.from_.lower() != "scratch":
                source_image = await self._image(plan.from_, False)
        workdir = stage.config.get("WorkingDir") or "/"
        scratch = self.services.scratch

        def work() -> str | None:
            with readonly(self.images, source_image, scratch) as image_root:
                src_root = self.context_dir if from_context else image_root
                digest = file_steps.find_sources(plan, src_root, patterns)
                created_by = self._nop(stage, plan.describe(digest))
                key = step_key(stage.image_id, created_by, stage.config)
                if self._reuse(stage, key):
                    return None
                with writable(self.images, stage.image, scratch) as space:
                    file_steps.apply_copy(plan, src_root, space.root, workdir)
                    return self._finish_fs_step(stage, key, space.upper, created_by)

        await self._fs_step(work)

    async def _fs_step(self, work: Callable[[], str | None]) -> None:
        async with self.images.lock:
            await asyncio.to_thread(work)

    def _finish_fs_step(self, stage: Stage, key: str, upper: Path, created_by: str) -> str:
        parent = stage.image_id
        changed = any(os.scandir(upper))
        diff_id = layer_from_upper(self.images, upper, frozenset()) if changed else None
        image_id = new_image(
            self.images, stage.image, copy.deepcopy(stage.config), {"created_by": created_by},
            diff_id=diff_id, extra=self._extra(stage),
        )  # fmt: skip
        self._done(stage, key, parent, image_id, created_by)
        return image_id

    async def _workdir(self, stage: Stage, inst: Instruction, words: Words) -> None:
        path = file_steps.workdir_path(stage.config.get("WorkingDir") or "", words.word(inst.rest))
        stage.config["WorkingDir"] = path
        created_by = self._nop(stage, f"WORKDIR {path}")
        key = step_key(stage.image_id, created_by, stage.config)
        scratch = self.services.scratch

        def work() -> str | None:
            if self._reuse(stage, key):
                return None
            with writable(self.images, stage.image, scratch) as space:
                target = resolve_in_root(space.root, path)
                if not target.exists():
                    target.mkdir(mode=0o755, parents=True)
                return self._finish_fs_step(stage, key, space.upper, created_by)

        await self._fs_step(work)


# Proxy variables Docker lets through without an ARG and never reports as unused.
PREDEFINED_ARGS = (
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
    "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
)  # fmt: skip


def tag_references(options: BuildOptions) -> list[Reference]:
    """The ``-t`` names, checked before the build starts."""
    refs = []
    for tag in options.tags:
        try:
            ref = parse_reference(tag)
        except EngineError as exc:
            raise InvalidParameter(f"invalid reference format: {tag}") from exc
        if ref.digest:
            raise InvalidParameter(f"invalid reference format: {tag} (build tags take no digest)")
        refs.append(ref)
    return refs
