"""Real containers through conmon + crun/runc: logs, exit codes, kill, attach, exec, detach.

Needs root, conmon and an OCI runtime. Bundles are a busybox rootfs plus a config.json made by
``runc spec`` and edited; cgroups go under ``/doca-test/<id>`` and are removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from engine.runtime import attach, cgroups, k8s_log
from engine.runtime.conmon import ConmonOptions, Created, create_container, start_exec
from engine.runtime.oci import OciRuntime, RuntimeFailure, find_runtime
from tests.support.testimage import BUSYBOX, build_rootfs_tar

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="containers need root"),
    pytest.mark.skipif(not Path("/usr/bin/conmon").exists(), reason="conmon is not installed"),
    pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static is not installed"),
    pytest.mark.timeout(30),
]


@pytest.fixture(scope="module")
def setup() -> cgroups.CgroupSetup:
    result = cgroups.prepare_cgroups()
    if result.runtime is None:
        pytest.skip("no OCI runtime installed")
    return result


@pytest.fixture(params=["crun", "runc"])
def runtime_path(request: pytest.FixtureRequest, setup: cgroups.CgroupSetup) -> str:
    """Both runtimes: crun where prepare_cgroups chose it, runc as the fallback it may choose."""
    if request.param == "crun" and Path(setup.runtime or "").name != "crun":
        pytest.skip(f"crun is not usable here: {setup.note}")
    found = find_runtime([request.param])
    if found is None:
        pytest.skip(f"{request.param} is not installed")
    return found


@pytest.fixture(scope="module")
def base_spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    spec_dir = tmp_path_factory.mktemp("spec")
    subprocess.run(["runc", "spec"], cwd=spec_dir, check=True)
    spec: dict[str, Any] = json.loads((spec_dir / "config.json").read_text())
    return spec


@pytest.fixture(scope="module")
def rootfs_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_rootfs_tar(tmp_path_factory.mktemp("image") / "rootfs.tar")


class Box:
    """One test container: its bundle, conmon's files, and the cleanup that undoes it all."""

    def __init__(self, base: Path, runtime: OciRuntime, spec: dict[str, Any], tar: Path) -> None:
        self.id = "t" + uuid.uuid4().hex[:12]
        self.dir = base / self.id
        self.bundle = self.dir / "bundle"
        self.runtime = runtime
        self.spec = json.loads(json.dumps(spec))
        (self.bundle / "rootfs").mkdir(parents=True)
        (self.dir / "exits").mkdir()
        with tarfile.open(tar) as archive:
            archive.extractall(self.bundle / "rootfs", filter="fully_trusted")
        self.conmon_pids: list[int] = []

    def configure(self, *args: str, terminal: bool = False, pid_ns: bool = True) -> None:
        spec = self.spec
        spec["process"].update(args=list(args), terminal=terminal)
        spec["linux"]["cgroupsPath"] = f"/doca-test/{self.id}"
        if not pid_ns:
            spec["linux"]["namespaces"] = [
                ns for ns in spec["linux"]["namespaces"] if ns["type"] != "pid"
            ]
        (self.bundle / "config.json").write_text(json.dumps(spec))

    def options(self, **overrides: Any) -> ConmonOptions:
        values: dict[str, Any] = dict(
            container_id=self.id,
            runtime_path=self.runtime.path,
            runtime_args=tuple(self.runtime.conmon_runtime_args()),
            bundle=self.bundle,
            pidfile=self.dir / "pidfile",
            exit_dir=self.dir / "exits",
            persist_dir=self.dir,
            oci_log=self.dir / "oci-log",
            log_path=self.dir / "ctr.log",
            conmon_pidfile=self.dir / "conmon.pid",
        )
        values.update(overrides)
        return ConmonOptions(**values)

    async def create(self, **overrides: Any) -> Created:
        created = await create_container(self.options(**overrides))
        assert created.conmon_pid is not None
        self.conmon_pids.append(created.conmon_pid)
        return created

    @property
    def exit_file(self) -> Path:
        return self.dir / "exits" / self.id

    async def exit_code(self, timeout: float = 10) -> int:
        async with asyncio.timeout(timeout):
            while not self.exit_file.exists() or not self.exit_file.read_text():
                await asyncio.sleep(0.02)
        return int(self.exit_file.read_text())

    async def cleanup(self, mounts: cgroups.CgroupMounts) -> None:
        with contextlib.suppress(RuntimeFailure):
            await self.runtime.delete(self.id, force=True)
        for pid in self.conmon_pids:  # only the conmons this test started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        cgroups.remove_cgroup(mounts, f"/doca-test/{self.id}")


@pytest.fixture
async def make_box(
    tmp_path: Path,
    setup: cgroups.CgroupSetup,
    runtime_path: str,
    base_spec: dict[str, Any],
    rootfs_tar: Path,
) -> AsyncIterator[Callable[..., Box]]:
    runtime = OciRuntime(runtime_path, tmp_path / "runtime")
    boxes: list[Box] = []

    def make(deep: bool = False) -> Box:
        # deep: a bundle path too long for sun_path (107 bytes) for conmon's attach socket
        base = tmp_path / ("d" * 100) if deep else tmp_path
        boxes.append(Box(base, runtime, base_spec, rootfs_tar))
        return boxes[-1]

    yield make
    for box in boxes:
        await box.cleanup(setup.mounts)
    cgroups.remove_cgroup(setup.mounts, "/doca-test")


def zombie_children() -> list[int]:
    """Our own children that have exited but were never reaped."""
    zombies = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z" and int(fields[1]) == os.getpid():
            zombies.append(int(entry.name))
    return zombies


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


MakeBox = Callable[..., Box]


async def test_output_goes_to_the_log_and_the_exit_code_to_the_exit_file(make_box: MakeBox) -> None:
    box = make_box()
    box.configure("sh", "-c", "echo out; echo err >&2; exit 3")
    created = await box.create()
    assert zombie_children() == []  # conmon's first process was reaped
    assert parent_of(box.conmon_pids[0]) != os.getpid()  # the daemonized conmon is not ours
    state = await box.runtime.state(box.id)
    assert state is not None and state["status"] == "created" and state["pid"] == created.pid
    await box.runtime.start(box.id)
    assert await box.exit_code() == 3
    records = [r async for r in k8s_log.read_log(box.dir / "ctr.log")]
    assert [(r.stream, r.data) for r in sorted(records, key=lambda r: r.stream, reverse=True)] == [
        ("stdout", b"out\n"),
        ("stderr", b"err\n"),
    ]
    assert (box.dir / "exit").read_text() == "3"  # conmon's copy in the persist dir


async def test_kill_and_signal_exit_code(make_box: MakeBox) -> None:
    # Without a PID namespace sleep is not an init process, so SIGTERM's default action applies.
    box = make_box()
    box.configure("sleep", "100", pid_ns=False)
    created = await box.create()
    await box.runtime.start(box.id)
    state = await box.runtime.state(box.id)
    assert state is not None and state["status"] == "running"
    assert await box.runtime.ps(box.id) == [created.pid]
    assert [c["id"] for c in await box.runtime.list()] == [box.id]
    await box.runtime.kill(box.id, signal.SIGTERM)
    assert await box.exit_code() == 128 + signal.SIGTERM
    assert await box.runtime.state("no-such-container") is None


async def test_pause_resume_update_and_stats(make_box: MakeBox, setup: cgroups.CgroupSetup) -> None:
    box = make_box()
    box.configure("sleep", "100")
    await box.create()
    await box.runtime.start(box.id)
    await box.runtime.pause(box.id)
    assert (await box.runtime.state(box.id) or {})["status"] == "paused"
    await box.runtime.resume(box.id)
    assert (await box.runtime.state(box.id) or {})["status"] == "running"
    await box.runtime.update(box.id, {"pids": {"limit": 50}, "memory": {"limit": 64 << 20}})
    stats = cgroups.read_stats(setup.mounts, f"/doca-test/{box.id}")
    assert stats.pids_current == 1 and stats.pids_limit == 50
    assert stats.memory_limit == 64 << 20
    assert stats.memory_usage is not None and stats.memory_usage > 0
    assert stats.cpu_total_ns is not None and stats.cpu_total_ns > 0
    await box.runtime.kill(box.id, "KILL")
    assert await box.exit_code() == 137


async def test_container_outlives_the_process_that_launched_it(make_box: MakeBox) -> None:
    box = make_box()
    box.configure("sleep", "100")
    opts = box.options()
    script = f"""
import asyncio, json, sys, time
from pathlib import Path
from engine.runtime.conmon import ConmonOptions, create_container
from engine.runtime.oci import OciRuntime
opts = ConmonOptions(**{{k: Path(v) if k in {PATH_FIELDS!r} else v
                       for k, v in json.loads(sys.argv[1]).items()}})
async def main():
    created = await create_container(opts)
    await OciRuntime({box.runtime.path!r}, Path({str(box.runtime.root)!r})).start(opts.container_id)
    print(json.dumps([created.pid, created.conmon_pid]), flush=True)
asyncio.run(main())
time.sleep(100)
"""
    encoded = {k: str(v) if isinstance(v, Path) else v for k, v in vars(opts).items()}
    launcher = subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(encoded)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        start_new_session=True,  # its own process group, which we kill as a whole
    )
    try:
        assert launcher.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(launcher.stdout.readline), 15)
        pid, conmon_pid = json.loads(line)
        box.conmon_pids.append(conmon_pid)
        assert parent_of(conmon_pid) != launcher.pid
        os.killpg(launcher.pid, signal.SIGKILL)  # as if the engine's whole group were killed
        launcher.wait(5)
    finally:
        launcher.kill()
        launcher.wait(5)
    await asyncio.sleep(0.1)
    os.kill(pid, 0)  # the container is still there ...
    os.kill(conmon_pid, 0)  # ... and so is its monitor, now parented by init or a subreaper
    assert parent_of(conmon_pid) not in (launcher.pid, os.getpid())
    assert (await box.runtime.state(box.id) or {})["status"] == "running"
    await box.runtime.kill(box.id, signal.SIGKILL)
    assert await box.exit_code() == 137


PATH_FIELDS = [
    "bundle", "pidfile", "exit_dir", "persist_dir", "oci_log", "log_path", "conmon_pidfile",
]  # fmt: skip


async def test_attach_carries_stdin_and_stdout(make_box: MakeBox) -> None:
    box = make_box(deep=True)
    assert len(str(box.bundle / "attach")) > 107
    box.configure("cat")
    await box.create(stdin=True)
    async with await attach.AttachConnection.connect(box.bundle / "attach") as conn:
        await box.runtime.start(box.id)
        await conn.write(b"hello\n")
        frame = await asyncio.wait_for(conn.read(), 5)
        assert frame == attach.AttachFrame(attach.STDOUT, b"hello\n")
        conn.close_stdin()  # cat sees EOF and exits
        assert await box.exit_code() == 0


async def test_resize_reaches_the_tty(make_box: MakeBox) -> None:
    box = make_box()
    box.configure("sh", "-c", "read line; stty size", terminal=True)
    await box.create(terminal=True, stdin=True)
    attach.resize(box.bundle / "ctl", 40, 100)
    async with await attach.AttachConnection.connect(box.bundle / "attach") as conn:
        await box.runtime.start(box.id)
        await conn.write(b"go\n")
        output = b""
        async with asyncio.timeout(5):
            async for frame in conn:
                output += frame.data
                if b"40 100" in output:
                    break
    assert b"40 100" in output
    assert await box.exit_code() == 0


async def test_exec_output_and_exit_code(make_box: MakeBox) -> None:
    box = make_box()
    box.configure("sleep", "100")
    await box.create()
    await box.runtime.start(box.id)

    async def run_exec(*args: str) -> tuple[int, list[attach.AttachFrame]]:
        session = box.dir / f"exec-{uuid.uuid4().hex[:8]}"
        (session / "exits").mkdir(parents=True)
        spec = session / "process.json"
        process = {
            "args": list(args),
            "cwd": "/",
            "env": ["PATH=/bin:/usr/bin"],
            "user": {"uid": 0, "gid": 0},
        }
        spec.write_text(json.dumps(process))
        conns: list[attach.AttachConnection] = []

        async def connect() -> None:
            conns.append(await attach.AttachConnection.connect(session / "attach"))

        opts = box.options(
            session_id=session.name, bundle=session, pidfile=session / "pid",
            exit_dir=session / "exits", persist_dir=session, oci_log=session / "oci-log",
            log_path=None, conmon_pidfile=session / "conmon.pid",
            exec_process_spec=spec, exec_attach=True,
        )  # fmt: skip
        try:
            exec_session = await start_exec(opts, on_attach_ready=connect)
            if exec_session.conmon_pid:
                box.conmon_pids.append(exec_session.conmon_pid)
            frames = [frame async for frame in conns[0]]
            code = await asyncio.wait_for(exec_session.wait(), 5)
            assert (session / "exits" / box.id).read_text() == str(code)
            return code, frames
        finally:
            for conn in conns:
                conn.close()

    code, frames = await run_exec("sh", "-c", "echo hi; echo oops >&2; exit 4")
    assert code == 4
    assert frames == [
        attach.AttachFrame(attach.STDOUT, b"hi\n"),
        attach.AttachFrame(attach.STDERR, b"oops\n"),
    ]
    code, frames = await run_exec("echo", "hi")
    assert (code, frames) == (0, [attach.AttachFrame(attach.STDOUT, b"hi\n")])
    with pytest.raises(RuntimeFailure) as failure:
        await run_exec("nosuchcmd")
    assert "not found" in failure.value.message and "nosuchcmd" in failure.value.message
    assert failure.value.exit_code == 127


async def test_missing_command_fails_with_the_runtime_message(make_box: MakeBox) -> None:
    box = make_box()
    box.configure("nosuchcmd")
    with pytest.raises(RuntimeFailure) as failure:
        await create_container(box.options())
    message = failure.value.message
    assert "nosuchcmd" in message and "not found in $PATH" in message, message
    assert failure.value.exit_code == 127
    assert zombie_children() == []


async def test_follow_the_log_of_a_running_container(make_box: MakeBox) -> None:
    box = make_box()
    box.configure("sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.1; done; printf end")
    await box.create()
    exited = asyncio.Event()

    async def watch_exit() -> None:
        await box.exit_code()
        exited.set()

    watcher = asyncio.create_task(watch_exit())
    await box.runtime.start(box.id)
    log = box.dir / "ctr.log"
    async with asyncio.timeout(10):
        got = [r.data async for r in k8s_log.read_log(log, follow=True, exited=exited)]
    await watcher
    assert got == [b"1\n", b"2\n", b"3\n", b"end"]
