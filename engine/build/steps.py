"""Carrying out one build step: look its key up in the build cache, else do the work (a
config change, a RUN in a container, files copied into a workspace) and commit the image.

Every step makes an image whose parent is the previous step's, as the classic builder does,
so ``docker images -a`` shows them and ``docker rmi`` takes them along.
"""

from __future__ import annotations

import asyncio
import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.build import file_steps, run_step
from engine.build.cache import BuildCache, step_key
from engine.build.cache_from import find_step
from engine.build.dockerfile import Instruction, parse_flags
from engine.build.metadata import command
from engine.build.options import BuildOptions
from engine.build.stage import Stage
from engine.build.words import Words
from engine.build.workspace import readonly, writable
from engine.containers.rootpath import resolve_in_root
from engine.containers.service import ContainerService
from engine.errors import InvalidParameter
from engine.faults import fault_point
from engine.images.commit import layer_from_upper, new_image
from engine.images.service import ImageService
from engine.images.store import ImageRecord

Emit = Callable[[dict[str, Any]], None]
RUN_FLAGS: dict[str, type] = {"mount": list, "network": str, "security": str}


@dataclass
class BuildServices:
    images: ImageService
    containers: ContainerService
    cache: BuildCache
    scratch: Path  # on the data root's filesystem


def short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


class StepRunner:
    def __init__(
        self, services: BuildServices, options: BuildOptions, context_dir: Path, emit: Emit
    ) -> None:
        self.services = services
        self.images = services.images
        self.options = options
        self.context_dir = context_dir
        self._emit = emit
        self.cache_sources: list[ImageRecord] = []  # --cache-from images found here

    def emit(self, text: str) -> None:
        if not self.options.quiet:
            self._emit({"stream": text})

    def reuse(self, stage: Stage, key: str, created_by: str) -> bool:
        """Take the step from the build cache or a ``--cache-from`` image. Call under the
        image service's lock, from a thread: a step found in a source image is committed."""
        if self.options.no_cache:
            return False
        image_id = self.services.cache.lookup(key, self.images.store.images)
        if image_id is None and self.cache_sources:
            image_id = self._from_sources(stage, key, created_by)
        if image_id is None:
            return False
        self.adopt(stage, self.images.store.images[image_id])
        self.emit(" ---> Using cache\n")
        self.emit(f" ---> {short(image_id)}\n")
        return True

    def _from_sources(self, stage: Stage, key: str, created_by: str) -> str | None:
        found = find_step(self.cache_sources, stage.image, created_by, stage.config)
        if found is None:
            return None
        if found.whole:
            image_id = found.source.id
        else:
            image_id = new_image(
                self.images, stage.image, copy.deepcopy(stage.config), {"created_by": created_by},
                diff_id=found.diff_id, extra=self._extra(stage),
            )  # fmt: skip
        self.services.cache.record(key, image_id, stage.image_id, created_by)
        return image_id

    async def reuse_locked(self, stage: Stage, key: str, created_by: str) -> bool:
        async with self.images.lock:
            return await asyncio.to_thread(self.reuse, stage, key, created_by)

    def adopt(self, stage: Stage, image: ImageRecord) -> None:
        stage.image = image
        stage.config = copy.deepcopy(image.config.get("config") or {})

    def _done(self, stage: Stage, key: str, parent: str, image_id: str, created_by: str) -> None:
        self.services.cache.record(key, image_id, parent, created_by)
        self.adopt(stage, self.images.store.images[image_id])
        self.emit(f" ---> {short(image_id)}\n")

    def _nop(self, stage: Stage, text: str) -> str:
        return " ".join(stage.shell) + " #(nop) " + text

    def _extra(self, stage: Stage) -> dict[str, Any]:
        return {"author": stage.author} if stage.author else {}

    async def commit_config(self, stage: Stage, description: str) -> None:
        """A step that changes only the config: same layers, one more history entry."""
        created_by = self._nop(stage, " " + description)
        key = step_key(stage.image_id, created_by, stage.config)
        if await self.reuse_locked(stage, key, created_by):
            return
        parent = stage.image_id
        config = copy.deepcopy(stage.config)
        async with self.images.lock:
            image_id = await asyncio.to_thread(
                new_image, self.images, stage.image, config, {"created_by": created_by},
                extra=self._extra(stage),
            )  # fmt: skip
        self._done(stage, key, parent, image_id, created_by)

    async def run(self, stage: Stage, inst: Instruction) -> None:
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
        if await self.reuse_locked(stage, key, created_by):
            return
        containers = self.services.containers
        emit = self._emit if not self.options.quiet else (lambda _message: None)
        record = await run_step.run_command(containers, stage, argv, self.options, emit)
        parent = stage.image_id
        try:
            upper = run_step.changes_of(containers, record)
            fault_point("build.before-commit")
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

    async def copy(
        self,
        stage: Stage,
        plan: file_steps.CopyPlan,
        patterns: list[str],
        source_image: ImageRecord | None,
    ) -> None:
        """COPY/ADD from the context, or from ``source_image`` with ``--from``."""
        from_context = not plan.from_
        workdir = stage.config.get("WorkingDir") or "/"
        scratch = self.services.scratch

        def work() -> str | None:
            with readonly(self.images, source_image, scratch) as image_root:
                src_root = self.context_dir if from_context else image_root
                digest = file_steps.find_sources(plan, src_root, patterns)
                created_by = self._nop(stage, plan.describe(digest))
                key = step_key(stage.image_id, created_by, stage.config)
                if self.reuse(stage, key, created_by):
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

    async def workdir(self, stage: Stage, inst: Instruction, words: Words) -> None:
        path = file_steps.workdir_path(stage.config.get("WorkingDir") or "", words.word(inst.rest))
        stage.config["WorkingDir"] = path
        created_by = self._nop(stage, f"WORKDIR {path}")
        key = step_key(stage.image_id, created_by, stage.config)
        scratch = self.services.scratch

        def work() -> str | None:
            if self.reuse(stage, key, created_by):
                return None
            with writable(self.images, stage.image, scratch) as space:
                target = resolve_in_root(space.root, path)
                if not target.exists():
                    target.mkdir(mode=0o755, parents=True)
                return self._finish_fs_step(stage, key, space.upper, created_by)

        await self._fs_step(work)
