"""Running containers: start through conmon, watch for exits, stop, kill, pause.

A container's conmon outlives the engine. While the engine runs, a pidfd on conmon tells it of
the exit; after a restart, ``recover`` either watches the conmon it finds again or records the
exit that happened meanwhile from conmon's exit file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from engine.containers.etc_files import write_etc_files
from engine.containers.host import HostSetup
from engine.containers.model import ContainerRecord
from engine.containers.mounts import oci_mounts
from engine.containers.networking import sandbox_request, uses_sandbox
from engine.containers.paths import ContainerPaths
from engine.containers.spec import ensure_workdir, network_namespace, spec_input
from engine.containers.state import Status, check, is_running
from engine.containers.store import ContainerStore
from engine.containers.user import resolve_user
from engine.errors import Conflict
from engine.events.bus import EventBus
from engine.networks.endpoints import Sandbox
from engine.networks.netns import run_in as run_in_netns
from engine.networks.sandbox import SandboxManager
from engine.runtime.cgroups import remove_cgroup
from engine.runtime.conmon import ConmonOptions, create_container
from engine.runtime.mounts import mount_overlay, unmount
from engine.runtime.oci import RuntimeFailure
from engine.runtime.oci_spec import build_spec, network_sysctls
from engine.runtime.pidwatch import is_alive, wait_for_exit
from engine.runtime.sysctls import write_sysctls
from engine.snapshots.store import SnapshotStore
from engine.timefmt import rfc3339_nano
from engine.userns.remapped import RemappedRoot, check_userns_conflicts
from engine.volumes.service import VolumeService

log = logging.getLogger(__name__)

# Called with None once the container's process exists (connect now), or with the error that
# ended the start (give up).
AttachHook = Callable[[BaseException | None], Awaitable[None]]
ExitHook = Callable[[ContainerRecord], Awaitable[None]]


_CRUN_NOT_FOUND = re.compile(r"executable file `(?P<cmd>[^`]*)` not found in \$PATH")


def start_error_text(message: str) -> str:
    """The runtime's complaint in dockerd's words, which the docker CLI reads to pick its exit
    code (127 for a missing command, 126 for one it may not run)."""
    match = _CRUN_NOT_FOUND.search(message)
    if match:
        message = f'exec: "{match["cmd"]}": executable file not found in $PATH'
    # Go spells errno texts in lower case; crun uses strerror's capitals.
    for text in ("Permission denied", "No such file or directory", "Is a directory"):
        message = message.replace(text, text.lower())
    return f"{message}: unknown"


class Lifecycle:
    def __init__(
        self,
        store: ContainerStore,
        snapshots: SnapshotStore,
        setup: HostSetup,
        events: EventBus,
        data_root: Path,
        exec_root: Path,
        chain_of: Callable[[str], str | None],
        volumes: VolumeService,
        sandboxes: SandboxManager,
    ) -> None:
        self.store = store
        self.snapshots = snapshots
        self.setup = setup
        self.events = events
        self.data_root = data_root
        self.exec_root = exec_root
        self._chain_of = chain_of  # image ID -> top chain ID of its layers
        self.volumes = volumes
        self.sandboxes = sandboxes
        self._monitors: dict[str, asyncio.Task[None]] = {}
        self._exited: dict[str, asyncio.Event] = {}
        self._exit_waiters: dict[str, list[asyncio.Future[int]]] = {}
        self._attach_hooks: dict[str, list[AttachHook]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.on_exit: ExitHook | None = None  # the service's auto-remove and restart policy
        self.on_start: Callable[[ContainerRecord], None] | None = None  # health checks
        self._remapped: RemappedRoot | None = None
        self._remapped_loaded = False
        self._remapped_lock = threading.Lock()

    def paths(self, record: ContainerRecord) -> ContainerPaths:
        return ContainerPaths.of(self.data_root, self.exec_root, record.id)

    def lock(self, container_id: str) -> asyncio.Lock:
        return self._locks.setdefault(container_id, asyncio.Lock())

    def exited(self, container_id: str) -> asyncio.Event:
        """Set while the container is not running; cleared when it starts."""
        return self._exited.setdefault(container_id, asyncio.Event())

    def next_exit(self, container_id: str) -> asyncio.Future[int]:
        """Resolves with the exit code of the container's next exit (or at its removal)."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._exit_waiters.setdefault(container_id, []).append(future)
        return future

    def resolve_exit_waiters(self, container_id: str, code: int) -> None:
        for future in self._exit_waiters.pop(container_id, []):
            if not future.done():
                future.set_result(code)

    def forget(self, container_id: str, code: int) -> None:
        """The container is gone: wake whoever waits on it and drop its bookkeeping."""
        self.exited(container_id).set()
        self.resolve_exit_waiters(container_id, code)
        self._exited.pop(container_id, None)
        self._locks.pop(container_id, None)
        self._attach_hooks.pop(container_id, None)

    def add_attach_hook(self, container_id: str, hook: AttachHook) -> Callable[[], None]:
        """Run ``hook`` after the container's process exists but before it starts, so an
        attached client sees its first byte of output. Returns a function to cancel it."""
        hooks = self._attach_hooks.setdefault(container_id, [])
        hooks.append(hook)

        def cancel() -> None:
            if hook in hooks:
                hooks.remove(hook)

        return cancel

    # -- start ---------------------------------------------------------------------------

    def remapped_root(self) -> RemappedRoot | None:
        """``--userns-remap``, loaded at its first use (blocking). The engine's settings reach
        the container service through the network service, which holds them."""
        with self._remapped_lock:
            if not self._remapped_loaded:
                self._remapped = RemappedRoot.load(self.sandboxes.networks.config.userns_remap)
                self._remapped_loaded = True
            return self._remapped

    def check_userns(self, host: dict[str, Any]) -> None:
        """Refuse at create what a container cannot have in a user namespace, as dockerd does
        (the start checks again)."""
        if self.sandboxes.networks.config.userns_remap and host.get("UsernsMode") != "host":
            check_userns_conflicts(host)

    def _prepare(
        self, record: ContainerRecord, paths: ContainerPaths, sandbox: Sandbox | None
    ) -> None:
        """Blocking part of a start: root filesystem, /etc files, bundle (in a thread)."""
        paths.run.mkdir(parents=True, exist_ok=True)
        paths.persist.mkdir(exist_ok=True)
        paths.exits.mkdir(exist_ok=True)
        paths.exit_file.unlink(missing_ok=True)
        paths.oom_file.unlink(missing_ok=True)
        chain = self._chain_of(record.image_id)
        lowers = self.snapshots.lowerdirs(chain) if chain else [self._empty_lower()]
        remap = self.remapped_root()
        mapping = remap.container_mapping(record.host_config) if remap else None
        if mapping is not None:
            unmount(paths.rootfs, lazy=True)  # a crash may have left the idmapped view mounted
        mount_overlay(lowers, paths.upper, paths.work, paths.rootfs)
        hostname = record.config.get("Hostname") or record.short_id
        etc = write_etc_files(
            paths.data,
            hostname,
            record.host_config,
            address=sandbox.primary_address() if sandbox else None,
            host_gateway=self.sandboxes.host_gateway(),
            embedded_dns=sandbox is not None and self.sandboxes.has_dns(sandbox),
        )
        user = resolve_user(
            paths.rootfs, record.config.get("User") or "", record.host_config.get("GroupAdd")
        )
        ensure_workdir(paths.rootfs, record.config.get("WorkingDir") or "", user)
        if remap is not None and mapping is not None:
            self._remap_files(remap, paths, lowers, list(etc.values()))
        netns = sandbox.key if sandbox else network_namespace(record.host_config, self._netns_of)
        mounts = oci_mounts(record.mounts, paths.rootfs, self.volumes)
        if mapping is not None:
            for point in record.mounts:
                if point["Type"] == "volume":
                    self.volumes.adopt(point["Name"], mapping.root_pair)
        inp = replace(
            spec_input(record, paths.rootfs, user, etc, self.setup, netns, mounts), userns=mapping
        )
        spec = build_spec(inp)
        sysctls = network_sysctls(inp, own_network=sandbox is not None)
        if netns and sysctls:
            run_in_netns(netns, lambda: write_sysctls(sysctls))
        (paths.bundle / "config.json").write_bytes(orjson.dumps(spec))

    @staticmethod
    def _remap_files(
        remap: RemappedRoot,
        paths: ContainerPaths,
        lowers: list[Path],
        etc_files: list[Path],
    ) -> None:
        """Give a remapped container its view: the root mounted again with idmapped layers
        (what the engine wrote before, a missing WORKDIR, went in with container IDs through
        the plain view), its /etc files owned by the remapped root, and its directory (0710)
        open to the remapped root's group, as dockerd does, for the runtime to reach them."""
        unmount(paths.rootfs, lazy=True)
        remap.mount_rootfs(lowers, paths.upper, paths.work, paths.rootfs)
        uid, gid = remap.root_pair
        os.chown(paths.data, -1, gid)
        for path in etc_files:
            os.chown(path, uid, gid)

    def _empty_lower(self) -> Path:
        empty = self.data_root / "containers" / ".empty-layer"
        empty.mkdir(exist_ok=True)
        return empty

    def _netns_of(self, ref: str) -> str:
        other = self.store.get(ref)
        if other.state.status is not Status.RUNNING:
            raise Conflict(f"cannot join network of a non running container: {other.short_id}")
        sandbox = self.sandboxes.get(other.id)
        return sandbox.key if sandbox else f"/proc/{other.state.pid}/ns/net"

    def _conmon_options(self, record: ContainerRecord, paths: ContainerPaths) -> ConmonOptions:
        config = record.config
        return ConmonOptions(
            container_id=record.id,
            runtime_path=self.setup.runtime.path,
            runtime_args=tuple(self.setup.runtime.conmon_runtime_args()),
            bundle=paths.bundle,
            pidfile=paths.pidfile,
            conmon_pidfile=paths.conmon_pidfile,
            exit_dir=paths.exits,
            persist_dir=paths.persist,
            oci_log=paths.oci_log,
            name=record.bare_name,
            log_path=paths.log,
            terminal=bool(config.get("Tty")),
            stdin=bool(config.get("OpenStdin")),
            leave_stdin_open=bool(config.get("OpenStdin")) and not config.get("StdinOnce"),
        )

    async def start(self, record: ContainerRecord) -> None:
        async with self.lock(record.id):
            check(record.state.status, "start", record.bare_name)
            paths = self.paths(record)
            try:
                sandbox = None
                if uses_sandbox(record.host_config):
                    sandbox = await self.sandboxes.attach(sandbox_request(record))
                    self._network_events("connect", record, sandbox)
                await asyncio.to_thread(self._prepare, record, paths, sandbox)
                created = await create_container(self._conmon_options(record, paths))
                for hook in self._attach_hooks.pop(record.id, []):
                    with contextlib.suppress(Exception):
                        await hook(None)
                started_at = rfc3339_nano()
                await self.setup.runtime.start(record.id)
            except RuntimeFailure as exc:
                await self._fail_attachers(record.id, exc)
                await self._release(record, paths)
                failure = RuntimeFailure(
                    "failed to create task for container: OCI runtime create failed: "
                    + start_error_text(exc.message),
                    exit_code=exc.exit_code,
                )
                record.state.error = failure.message
                record.state.exit_code = exc.exit_code or 128
                self.store.save_state(record)
                raise failure from exc
            except BaseException as exc:
                await self._fail_attachers(record.id, exc)
                await self._release(record, paths)
                raise
            state = record.state
            state.status = Status.RUNNING
            state.pid = created.pid
            state.conmon_pid = created.conmon_pid or 0
            state.exit_code = 0
            state.error = ""
            state.oom_killed = False
            state.stopped_by_user = False
            state.started_at = started_at
            self.store.save_state(record)
            self.exited(record.id).clear()
        self.events.publish("container", "start", record.id, self.attributes(record))
        self._watch(record)
        if self.on_start is not None:
            self.on_start(record)

    async def _fail_attachers(self, container_id: str, error: BaseException) -> None:
        for hook in self._attach_hooks.pop(container_id, []):
            with contextlib.suppress(Exception):
                await hook(error)

    def _network_events(self, action: str, record: ContainerRecord, sandbox: Sandbox) -> None:
        """dockerd's ``network connect``/``disconnect`` events as a container starts or stops."""
        names = {e.get("NetworkID"): name for name, e in record.networks.items()}
        for endpoint in sandbox.endpoints:
            attributes = {
                "container": record.id,
                "name": names.get(endpoint.network_id, endpoint.network_id),
                "type": "bridge",
            }
            self.events.publish("network", action, endpoint.network_id, attributes)

    def attributes(self, record: ContainerRecord) -> dict[str, str]:
        return {**record.labels, "image": record.image, "name": record.bare_name}

    # -- exits ---------------------------------------------------------------------------

    def _watch(self, record: ContainerRecord) -> None:
        async def monitor() -> None:
            await wait_for_exit(record.state.conmon_pid)
            await self.handle_exit(record, seen_live=True)

        task = asyncio.create_task(monitor(), name=f"monitor-{record.short_id}")
        self._monitors[record.id] = task
        task.add_done_callback(lambda _: self._monitors.pop(record.id, None))

    def _read_exit(self, paths: ContainerPaths) -> tuple[int, float | None]:
        try:
            text = paths.exit_file.read_text().strip()
            return int(text), paths.exit_file.stat().st_mtime
        except (OSError, ValueError):
            return 255, None  # conmon died without recording an exit: dockerd reports 255

    async def handle_exit(self, record: ContainerRecord, seen_live: bool = False) -> None:
        """Record an exit. One the engine saw happen is dated now; one that happened while it
        was down is dated by conmon's exit file (whose coarse mtime can lag a fast exit)."""
        async with self.lock(record.id):
            if not is_running(record.state.status):
                return
            paths = self.paths(record)
            code, when = self._read_exit(paths)
            state = record.state
            state.oom_killed = paths.oom_file.exists()
            await self._release(record, paths)
            state.status = Status.EXITED
            state.pid = 0
            state.conmon_pid = 0
            state.exit_code = code
            state.finished_at = rfc3339_nano(None if seen_live else when)
            try:
                self.store.save_state(record)
            except OSError as exc:
                # A full disk must not leave waiters hanging: the exit stands in memory, and
                # conmon's exit file records it again at the engine's next start.
                log.error("could not record the exit of %s: %s", record.short_id, exc)
            self.exited(record.id).set()
            self.resolve_exit_waiters(record.id, code)
        attributes = {**self.attributes(record), "exitCode": str(code)}
        if state.oom_killed:
            self.events.publish("container", "oom", record.id, self.attributes(record))
        self.events.publish("container", "die", record.id, attributes)
        if self.on_exit is not None:
            await self.on_exit(record)

    async def _release(self, record: ContainerRecord, paths: ContainerPaths) -> None:
        """Undo a start: the runtime's container, the network, the root mount, the cgroup."""
        with contextlib.suppress(RuntimeFailure):
            await self.setup.runtime.delete(record.id, force=True)
        sandbox = self.sandboxes.get(record.id)
        if sandbox is not None:
            await self.sandboxes.detach(record.id)
            self._network_events("disconnect", record, sandbox)
        await asyncio.to_thread(self._release_files, record, paths)

    def _release_files(self, record: ContainerRecord, paths: ContainerPaths) -> None:
        with contextlib.suppress(Exception):
            unmount(paths.rootfs, lazy=True)
        cgroups = self.setup.cgroups
        remove_cgroup(cgroups.mounts, cgroups.container_path(record.id))
        for name in ("attach", "ctl", "winsz", "pidfile", "conmon.pid"):
            with contextlib.suppress(OSError):
                (paths.run / name).unlink()

    async def recover(self) -> None:
        """After an engine restart: re-watch live containers, record exits that happened."""
        for record in self.store:
            if not is_running(record.state.status):
                self.exited(record.id).set()
                continue
            pid = record.state.conmon_pid
            if pid and is_alive(pid) and self._is_our_conmon(pid, record.id):
                await self.sandboxes.restore(record.id)
                self._watch(record)
                if self.on_start is not None:
                    self.on_start(record)
            else:
                await self.handle_exit(record)

    @staticmethod
    def _is_our_conmon(pid: int, container_id: str) -> bool:
        """Guard against PID reuse: the process must be the conmon of this container."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return (
            bool(cmdline)
            and os.path.basename(cmdline[0]) == b"conmon"
            and (container_id.encode() in cmdline)
        )

    async def close(self) -> None:
        """Stop watching (the containers keep running; conmon keeps their exits)."""
        for task in list(self._monitors.values()):
            task.cancel()
        await asyncio.gather(*self._monitors.values(), return_exceptions=True)
        if self._remapped is not None:
            self._remapped.close()
