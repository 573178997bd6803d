"""Container operations behind the Engine API, named after Docker's: create, start, stop, kill,
restart, pause, unpause, wait, remove, rename, prune."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import signal
from typing import Any

from engine.containers.connections import Connections
from engine.containers.create_config import (
    check_types,
    command_of,
    merge_with_image,
    validate_host_config,
)
from engine.containers.exec import ExecService
from engine.containers.health import HealthMonitor
from engine.containers.lifecycle import Lifecycle
from engine.containers.model import ContainerRecord
from engine.containers.mounts import inherit, mount_points
from engine.containers.names import generate_name, validate_name
from engine.containers.networking import endpoints_at_create
from engine.containers.signals import parse_signal
from engine.containers.state import Status, check, is_running
from engine.containers.store import ContainerStore
from engine.containers.update import oci_resources, updated_host_config
from engine.errors import Conflict, InvalidParameter, NotFound, SystemError_
from engine.events.bus import EventBus
from engine.filters import Filters, parse_timestamp
from engine.images.service import ContainerUse, ImageService
from engine.meta.disk import directory_size
from engine.runtime.oci import RuntimeFailure
from engine.timefmt import parse_rfc3339, rfc3339_nano

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 10
# Marks the containers that run a build's RUN steps.
BUILD_STEP_LABEL = "org.doca.build-step"
# How long a SIGKILLed container may take to be reported gone (a stuck D-state process).
EXIT_GRACE = 60
KILL_WAIT = 10  # dockerd's wait for the exit after a kill without a signal
PRUNE_FILTERS = ("until", "label", "label!")


class ContainerService:
    def __init__(
        self, store: ContainerStore, lifecycle: Lifecycle, images: ImageService, events: EventBus
    ) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.images = images
        self.events = events
        self.execs = ExecService(lifecycle)
        self.health = HealthMonitor(self.execs)
        self.connections = Connections(store, lifecycle.sandboxes, events)
        self._removed: dict[str, asyncio.Event] = {}
        self._restarts: dict[str, asyncio.Task[None]] = {}
        self._shutting_down = False
        lifecycle.volumes.usage = self.containers_using_volume
        lifecycle.on_exit = self._after_exit
        lifecycle.on_start = self.health.start
        images.usage = self.containers_using

    def get(self, ref: str) -> ContainerRecord:
        return self.store.get(ref)

    def containers_using(self, image_id: str) -> list[ContainerUse]:
        return [
            ContainerUse(r.id, is_running(r.state.status))
            for r in self.store
            if r.image_id == image_id
        ]

    def _check_name_free(self, canonical: str) -> None:
        owner = self.store.name_owner(canonical)
        if owner is not None:
            raise Conflict(
                f'Conflict. The container name "{canonical}" is already in use by container '
                f'"{owner}". You have to remove (or rename) that container to be able to reuse '
                "that name."
            )

    def containers_using_volume(self, name: str) -> list[str]:
        return [r.id for r in self.store if any(m.get("Name") == name for m in r.mounts)]

    def counts(self) -> tuple[int, int, int, int]:
        statuses = [r.state.status for r in self.store]
        running = statuses.count(Status.RUNNING) + statuses.count(Status.RESTARTING)
        paused = statuses.count(Status.PAUSED)
        return len(statuses), running, paused, len(statuses) - running - paused

    # -- create --------------------------------------------------------------------------

    async def create(self, name: str | None, body: Any) -> ContainerRecord:
        if not isinstance(body, dict):
            raise InvalidParameter("invalid JSON: the request body must be an object")
        host = body.get("HostConfig") or {}
        if not isinstance(host, dict):
            raise InvalidParameter("invalid JSON: HostConfig must be an object")
        config = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
        check_types(config, host)
        validate_host_config(host)
        self.lifecycle.check_userns(host)
        if (host.get("Memory") or 0) > 0 and not host.get("MemorySwap"):
            # dockerd's default (adaptContainerSettings): as much swap as memory.
            host["MemorySwap"] = host["Memory"] * 2
        image_name = config.get("Image")
        if not image_name or not isinstance(image_name, str):
            raise InvalidParameter("config cannot be empty in order to create a container")
        image = self.images.resolve(image_name)
        merged = merge_with_image(config, (image.config.get("config") or {}))
        command = command_of(merged)
        canonical = validate_name(name) if name else generate_name(self.store.names())
        self._check_name_free(canonical)
        volumes_from = []
        for entry in host.get("VolumesFrom") or []:
            ref, _, mode = str(entry).partition(":")
            volumes_from.append(inherit(self.get(ref).mounts, mode))
        mounts = mount_points(merged, host, self.lifecycle.volumes, volumes_from)
        container_id = secrets.token_hex(32)
        host.setdefault("NetworkMode", "default")
        networks = endpoints_at_create(
            self.lifecycle.sandboxes.networks, host, body.get("NetworkingConfig")
        )
        record = ContainerRecord(
            id=container_id,
            name=canonical,
            created=rfc3339_nano(),
            image_id=image.id,
            image=image_name,
            config=merged,
            host_config=host,
            path=command[0],
            args=command[1:],
            networks=networks,
            mounts=mounts,
        )
        await asyncio.to_thread(self.store.add, record)
        self.events.publish("container", "create", record.id, self.lifecycle.attributes(record))
        return record

    # -- run state -----------------------------------------------------------------------

    async def start(self, ref: str) -> None:
        record = self.get(ref)
        self._cancel_restart(record.id)
        try:
            await self.lifecycle.start(record)
        except Exception:
            # As dockerd does: a --rm container that cannot start is removed, which also
            # releases a client waiting for its removal.
            if record.host_config.get("AutoRemove"):
                with contextlib.suppress(NotFound, Conflict):
                    await self.remove(record.id, force=True)
            raise

    def _stop_timeout(self, record: ContainerRecord, timeout: int | None) -> int:
        if timeout is not None:
            return timeout
        configured = record.config.get("StopTimeout")
        return configured if isinstance(configured, int) else DEFAULT_STOP_TIMEOUT

    async def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> None:
        record = self.get(ref)
        self._cancel_restart(record.id)
        if record.state.status is Status.RESTARTING:
            return
        check(record.state.status, "stop", record.bare_name)
        await self._stop(record, timeout, sig)

    async def stop_all(self) -> None:
        """Stop every running container, as dockerd without live-restore does at shutdown:
        each with its stop signal and timeout, all at once. Not a user's stop, so restart
        policies start them again with the engine."""
        self._shutting_down = True
        for container_id in list(self._restarts):
            self._cancel_restart(container_id)
        running = [r for r in self.store if is_running(r.state.status)]
        results = await asyncio.gather(
            *(self._stop(r, None, None, by_user=False) for r in running), return_exceptions=True
        )
        for record, result in zip(running, results, strict=True):
            if isinstance(result, Exception):
                log.warning("could not stop %s at shutdown: %s", record.short_id, result)

    async def _stop(
        self, record: ContainerRecord, timeout: int | None, sig: str | None, *, by_user: bool = True
    ) -> None:
        if by_user:
            record.state.stopped_by_user = True
            self.store.save_state(record)
        stop_signal = parse_signal(sig or record.config.get("StopSignal"), signal.SIGTERM)
        exited = self.lifecycle.exited(record.id)
        wait = self._stop_timeout(record, timeout)
        # The process may be gone by the time a signal is sent; its exit is what counts.
        with contextlib.suppress(Conflict, NotFound, RuntimeFailure):
            await self._signal(record, stop_signal)
        if stop_signal != signal.SIGKILL:
            if wait != 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(exited.wait(), None if wait < 0 else wait)
            if not exited.is_set():
                with contextlib.suppress(Conflict, NotFound, RuntimeFailure):
                    await self._signal(record, signal.SIGKILL)
        try:
            await asyncio.wait_for(exited.wait(), EXIT_GRACE)
        except TimeoutError:
            raise SystemError_(
                f"container {record.short_id} did not exit after SIGKILL; see the engine log"
            ) from None
        self.events.publish("container", "stop", record.id, self.lifecycle.attributes(record))

    async def _signal(self, record: ContainerRecord, signo: int) -> None:
        if not is_running(record.state.status):
            raise Conflict(f"Container {record.bare_name} is not running")
        await self.lifecycle.setup.runtime.kill(record.id, signo, all_=False)
        attrs = {**self.lifecycle.attributes(record), "signal": str(signo)}
        self.events.publish("container", "kill", record.id, attrs)
        if record.state.status is Status.PAUSED and signo == signal.SIGKILL:
            await self.unpause(record.id)

    async def kill(self, ref: str, sig: str | None = None) -> None:
        record = self.get(ref)
        check(record.state.status, "kill", record.bare_name)
        signo = parse_signal(sig, signal.SIGKILL)
        if signo in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            record.state.stopped_by_user = True
            self.store.save_state(record)
        exited = self.lifecycle.exited(record.id)
        await self._signal(record, signo)
        if not sig:
            # As dockerd: a kill with no signal named returns once the container has exited
            # (one that names a signal only sends it).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(exited.wait(), KILL_WAIT)

    async def restart(self, ref: str, timeout: int | None = None, sig: str | None = None) -> None:
        record = self.get(ref)
        self._cancel_restart(record.id)
        if is_running(record.state.status):
            await self._stop(record, timeout, sig)
        await self.lifecycle.start(record)
        self.events.publish("container", "restart", record.id, self.lifecycle.attributes(record))

    async def pause(self, ref: str) -> None:
        await self._freeze(ref, "pause")

    async def unpause(self, ref: str) -> None:
        await self._freeze(ref, "unpause")

    async def _freeze(self, ref: str, verb: str) -> None:
        """Pause or unpause through the cgroup freezer (the runtime's pause/resume)."""
        record = self.get(ref)
        check(record.state.status, verb, record.bare_name)
        runtime = self.lifecycle.setup.runtime
        if verb == "pause":
            await runtime.pause(record.id)
            record.state.status = Status.PAUSED
        else:
            await runtime.resume(record.id)
            record.state.status = Status.RUNNING
        self.store.save_state(record)
        self.events.publish("container", verb, record.id, self.lifecycle.attributes(record))

    async def wait(self, record: ContainerRecord, condition: str) -> int:
        """Block until ``condition`` holds; return the exit code, as ``POST /wait`` does."""
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise InvalidParameter(f"invalid condition: {condition!r}")
        if condition == "removed":
            await self._removed.setdefault(record.id, asyncio.Event()).wait()
        elif condition == "next-exit" or is_running(record.state.status):
            await self.lifecycle.next_exit(record.id)
        return record.state.exit_code

    async def update(self, ref: str, body: Any) -> None:
        record = self.get(ref)
        check(record.state.status, "update", record.bare_name)
        host = updated_host_config(record, body)
        if is_running(record.state.status):
            await self.lifecycle.setup.runtime.update(record.id, oci_resources(host))
        record.host_config = host
        await asyncio.to_thread(self.store.save_config, record)
        self.events.publish("container", "update", record.id, self.lifecycle.attributes(record))

    async def start_on_boot(self) -> None:
        """At engine start, as dockerd does: containers with restart policy ``always`` start
        again, and ``unless-stopped`` ones unless a user stopped them."""
        for record in self.store:
            policy = (record.host_config.get("RestartPolicy") or {}).get("Name") or "no"
            if record.state.status is not Status.EXITED:
                continue
            if policy == "always" or (
                policy == "unless-stopped" and not record.state.stopped_by_user
            ):
                try:
                    await self.lifecycle.start(record)
                except Exception as exc:
                    log.warning("could not restart %s at engine start: %s", record.short_id, exc)

    async def remove_build_leftovers(self) -> None:
        """Containers of build steps whose build died with the engine serve no one: remove
        them (a build removes its own as it goes)."""
        for record in list(self.store):
            if BUILD_STEP_LABEL in (record.config.get("Labels") or {}):
                log.info("removing %s, left by an interrupted build", record.short_id)
                with contextlib.suppress(NotFound, Conflict):
                    await self.remove(record.id, force=True, volumes=True)

    # -- exits: auto-remove and restart policies -------------------------------------------

    async def _after_exit(self, record: ContainerRecord) -> None:
        self.health.stop(record.id)
        host = record.host_config
        if host.get("AutoRemove"):
            with contextlib.suppress(NotFound, Conflict):
                await self.remove(record.id, force=False, volumes=True)
            return
        if self._should_restart(record) and not self._shutting_down:
            delay = min(0.1 * 2**record.state.restart_count, 60.0)
            record.state.status = Status.RESTARTING
            self.store.save_state(record)
            self._restarts[record.id] = asyncio.create_task(self._restart_later(record, delay))

    def _should_restart(self, record: ContainerRecord) -> bool:
        policy = record.host_config.get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if record.state.stopped_by_user or name == "no":
            return False
        if name == "on-failure":
            retries = policy.get("MaximumRetryCount") or 0
            return record.state.exit_code != 0 and (
                not retries or record.state.restart_count < retries
            )
        return name in ("always", "unless-stopped")

    async def _restart_later(self, record: ContainerRecord, delay: float) -> None:
        await asyncio.sleep(delay)
        self._restarts.pop(record.id, None)
        record.state.status = Status.EXITED
        record.state.restart_count += 1
        try:
            await self.lifecycle.start(record)
        except Exception as exc:
            log.warning("restarting %s failed: %s", record.short_id, exc)
            return
        self.events.publish("container", "restart", record.id, self.lifecycle.attributes(record))

    def _cancel_restart(self, container_id: str) -> None:
        task = self._restarts.pop(container_id, None)
        if task is not None:
            task.cancel()
            record = self.store.get(container_id)
            if record.state.status is Status.RESTARTING:
                record.state.status = Status.EXITED
                self.store.save_state(record)

    # -- remove, rename, prune -------------------------------------------------------------

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        record = self.get(ref)
        self._cancel_restart(record.id)
        if is_running(record.state.status):
            if not force:
                check(record.state.status, "remove", record.bare_name)
            await self._stop(record, 0, "SIGKILL")
        check(record.state.status, "remove", record.bare_name)
        record.state.status = Status.REMOVING
        paths = self.lifecycle.paths(record)
        await asyncio.to_thread(self._remove_files, record, paths.run)
        if volumes:
            self._remove_anonymous_volumes(record)
        self.events.publish("container", "destroy", record.id, self.lifecycle.attributes(record))
        removed = self._removed.pop(record.id, None)
        if removed is not None:
            removed.set()
        self.lifecycle.forget(record.id, record.state.exit_code)
        self.execs.forget_container(record.id)

    def _remove_anonymous_volumes(self, record: ContainerRecord) -> None:
        """``docker rm -v``: the container's anonymous volumes go with it, unless shared."""
        volumes = self.lifecycle.volumes
        for point in record.mounts:
            name = point.get("Name")
            if name and volumes.exists(name) and volumes.get(name).anonymous:
                with contextlib.suppress(Conflict, NotFound):
                    volumes.remove(name)

    def _remove_files(self, record: ContainerRecord, run_dir: Any) -> None:
        self.store.remove(record)
        shutil.rmtree(run_dir, ignore_errors=True)

    async def rename(self, ref: str, new_name: str) -> None:
        record = self.get(ref)
        if not new_name:
            raise InvalidParameter("Neither old nor new names may be empty")
        canonical = validate_name(new_name)
        if canonical == record.name:
            raise InvalidParameter("Renaming a container with the same name as its current name")
        self._check_name_free(canonical)
        old = record.name
        self.store.rename(record, canonical)
        await self.lifecycle.sandboxes.rename(record.id, old.lstrip("/"), record.bare_name)
        attrs = {**self.lifecycle.attributes(record), "oldName": old}
        self.events.publish("container", "rename", record.id, attrs)

    async def prune(self, filters: Filters) -> dict[str, Any]:
        filters.validate(PRUNE_FILTERS)
        until = [parse_timestamp(u) for u in filters.get("until")]
        deleted = []
        reclaimed = 0
        for record in list(self.store):
            if is_running(record.state.status) or record.state.status is Status.REMOVING:
                continue
            if any(parse_rfc3339(record.created) > u for u in until):
                continue
            if not filters.match_labels(record.labels) or not filters.match_not_labels(
                record.labels
            ):
                continue
            upper = self.lifecycle.paths(record).upper
            size = await asyncio.to_thread(directory_size, upper)
            with contextlib.suppress(NotFound, Conflict):
                await self.remove(record.id)
                deleted.append(record.id)
                reclaimed += size
        self.events.publish("container", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}
