"""One ``docker build``: the Dockerfile's stages, in order up to the target, with their
ARGs, FROM images (pulled when missing) and ONBUILD triggers; each step is carried out by
``engine.build.steps``."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from engine.build import file_steps
from engine.build.dockerfile import (
    Dockerfile,
    DockerfileError,
    Instruction,
    arg_definitions,
    parse,
    parse_flags,
)
from engine.build.metadata import HANDLERS
from engine.build.options import BuildOptions
from engine.build.run_step import PROXY_ARGS
from engine.build.stage import Stage
from engine.build.steps import BuildServices, StepRunner, short
from engine.build.words import Words
from engine.containers.rootpath import resolve_in_root
from engine.errors import EngineError, InvalidParameter, NotFound
from engine.images.reference import Reference, parse_reference
from engine.images.store import ImageRecord

Emit = Callable[[dict[str, Any]], None]
# Pulls an image for FROM or COPY --from; returns its ID.
Pull = Callable[[str], Awaitable[str]]

COPY_FLAGS: dict[str, type] = {"from": str, "chown": str, "chmod": str, "link": bool}
ADD_FLAGS: dict[str, type] = {"chown": str, "chmod": str, "link": bool, "checksum": str}
FROM_FLAGS: dict[str, type] = {"platform": str}


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
        self.steps = StepRunner(services, options, context_dir, emit)

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
        for name in self.options.cache_from:
            with contextlib.suppress(NotFound, InvalidParameter):
                self.steps.cache_sources.append(self.images.resolve(name))
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
            await self.steps.commit_config(final, f"LABEL {labels}")
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
        await self.steps.commit_config(stage, "ARG " + " ".join(texts))

    def _warn_unused_args(self) -> None:
        unused = sorted(set(self.options.build_args) - self.used_args - PROXY_ARGS)
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
                await self.steps.run(stage, inst)
            elif inst.keyword in ("COPY", "ADD"):
                await self._copy(stage, inst, words)
            elif inst.keyword == "WORKDIR":
                await self.steps.workdir(stage, inst, words)
            elif inst.keyword in HANDLERS:
                description = HANDLERS[inst.keyword](stage, inst, words)
                await self.steps.commit_config(stage, description)
            else:
                raise InvalidParameter(f"unknown instruction: {inst.keyword}")
        except DockerfileError as exc:
            raise self._error(inst, exc.message) from exc
        except InvalidParameter as exc:
            if exc.message.startswith(f"{self.options.dockerfile}:"):
                raise
            raise self._error(inst, exc.message) from exc

    async def _copy(self, stage: Stage, inst: Instruction, words: Words) -> None:
        flags = parse_flags(inst, COPY_FLAGS if inst.keyword == "COPY" else ADD_FLAGS)
        if flags.get("checksum"):
            raise InvalidParameter("ADD --checksum is only supported for URL sources")
        plan, patterns = file_steps.plan_copy(inst, words, flags)
        source_image: ImageRecord | None = None
        if plan.from_:
            source_stage = self._stage_by_name(plan.from_)
            if source_stage is not None:
                source_image = source_stage.image
            elif plan.from_.lower() != "scratch":
                source_image = await self._image(plan.from_, False)
        await self.steps.copy(stage, plan, patterns, source_image)


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
