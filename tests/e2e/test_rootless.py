"""``doca-engine --rootless``: the engine run by an unprivileged user in a user namespace of its
own, driven by the real docker CLI as that user.

The module creates a user with a subordinate range of its own in /etc/subuid and /etc/subgid
(both files restored byte for byte afterwards) and removes the user at the end. The engine runs
with the user's XDG directories: data under ``~/.local/share/doca``, socket under
``$XDG_RUNTIME_DIR/doca``.

The user and how commands run as that user are in ``tests.support.rootless``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.engine import DOCKER, free_port
from tests.support.rootless import RANGE, RootlessUser, rootless_user
from tests.support.testimage import TestImage

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
CGROUP_ROOT = Path("/sys/fs/cgroup")


@pytest.fixture(scope="module")
def user() -> Iterator[RootlessUser]:
    with rootless_user() as account:
        yield account


def with_suppress_kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@dataclass
class RootlessEngine:
    user: RootlessUser
    log: Path
    cgroup: Path | None = None  # the cgroup delegated to it, on a cgroup v2 host
    name: str = "doca"  # its directory under XDG_RUNTIME_DIR (the default engine's: doca)
    proc: subprocess.Popen[bytes] | None = None  # its launcher, once started

    @property
    def socket(self) -> Path:
        return self.user.run_dir / self.name / "doca.sock"

    @property
    def pidfile(self) -> Path:
        return self.user.run_dir / f"{self.name}.pid"

    def inner_pid(self) -> int:
        return int(self.pidfile.read_text().strip())

    def docker(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = self.user.env(DOCKER_HOST=f"unix://{self.socket}")
        result = subprocess.run(
            ["runuser", "-u", self.user.name, "--", *env, DOCKER, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}\n"
                f"engine log:\n{self.log.read_text(errors='replace')[-4000:]}"
            )
        return result


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


@pytest.fixture(scope="module")
def delegated_cgroup(user: RootlessUser) -> Iterator[Path | None]:
    """On a cgroup v2 host, a cgroup delegated to the user as systemd delegates one to a
    service with ``Delegate=yes`` (the directory and its process and control files are the
    user's); None elsewhere, where the engine runs its containers without cgroups."""
    if not (CGROUP_ROOT / "cgroup.controllers").exists():
        yield None
        return
    directory = CGROUP_ROOT / f"doca-rootless-{secrets.token_hex(4)}"
    directory.mkdir()
    try:
        enabled = (CGROUP_ROOT / "cgroup.subtree_control").read_text().split()
        for controller in ("memory", "pids"):
            if controller not in enabled:
                (CGROUP_ROOT / "cgroup.subtree_control").write_text(f"+{controller}")
        for path in (directory, *(directory / n for n in ("cgroup.procs", "cgroup.threads",
                                                          "cgroup.subtree_control"))):  # fmt: skip
            os.chown(path, user.uid, user.gid)
        yield directory
    finally:
        deadline = time.monotonic() + 10
        while directory.exists() and time.monotonic() < deadline:
            for child in sorted(directory.rglob("*"), key=lambda p: -len(p.parts)):
                if child.is_dir():
                    with contextlib.suppress(OSError):
                        child.rmdir()
            with contextlib.suppress(OSError):
                directory.rmdir()
            time.sleep(0.1)


def _launch(engine: RootlessEngine, *extra: str) -> None:
    """Start ``engine`` as its user (in its cgroup, if any) and wait until the docker CLI
    reaches it. An engine other than the default one has directories of its own."""
    user, log, cgroup = engine.user, engine.log, engine.cgroup
    engine_argv = [
        str(Path(sys.executable).with_name("doca-engine")),
        "--rootless", "--log-level", "debug", "--pidfile", str(engine.pidfile), *extra,
    ]  # fmt: skip
    if engine.name != "doca":
        engine_argv += [
            "-H", f"unix://{engine.socket}", "--exec-root", str(engine.socket.parent),
            "--data-root", str(user.home / ".local" / "share" / engine.name),
        ]  # fmt: skip
    argv = user.launch_argv(engine_argv)
    if cgroup is not None:
        argv = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(cgroup), *argv]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    engine.proc = proc
    deadline = time.monotonic() + START_TIMEOUT
    while not (engine.socket.exists() and engine.docker("version", check=False).returncode == 0):
        if proc.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise RuntimeError(f"the rootless engine did not start:\n{log.read_text()}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def engine(
    user: RootlessUser, test_image: TestImage, delegated_cgroup: Path | None
) -> Iterator[RootlessEngine]:
    log = user.scratch / "engine.log"
    started = RootlessEngine(user, log, delegated_cgroup)
    _launch(started)
    try:
        tar = user.home / "busybox.tar"
        shutil.copyfile(test_image.save_tar, tar)
        os.chown(tar, user.uid, user.gid)
        started.docker("load", "-i", str(tar))
        yield started
    finally:
        _stop(started)


def _stop(engine: RootlessEngine) -> None:
    """SIGTERM to the engine's outer process (it passes it on), then wait for the launcher."""
    try:
        outer = int(_status(engine.inner_pid())["PPid"])
        if Path(f"/proc/{outer}").stat().st_uid == engine.user.uid:
            os.kill(outer, signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        pass
    assert engine.proc is not None
    try:
        engine.proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(engine.proc.pid, signal.SIGKILL)
        engine.proc.wait(10)


def test_containers_run_as_root_of_the_namespace(engine: RootlessEngine) -> None:
    out = engine.docker("run", "--rm", "--network", "none", "busybox", "id").stdout
    assert out.startswith("uid=0(root) gid=0(root)")


def test_the_engine_has_no_capabilities_outside_its_namespace(
    engine: RootlessEngine, user: RootlessUser
) -> None:
    inner = engine.inner_pid()
    outer = int(_status(inner)["PPid"])
    for pid in (outer, inner):
        assert _status(pid)["Uid"].split() == [str(user.uid)] * 4
    # The outer process is in the host's user namespace, with no capability at all.
    assert int(_status(outer)["CapEff"], 16) == 0
    assert int(_status(outer)["CapPrm"], 16) == 0
    assert os.readlink(f"/proc/{outer}/ns/user") == os.readlink("/proc/self/ns/user")
    # The engine proper holds its capabilities in a user namespace of its own, mapped from
    # the user's IDs only.
    assert os.readlink(f"/proc/{inner}/ns/user") != os.readlink("/proc/self/ns/user")
    uid_map = [line.split() for line in Path(f"/proc/{inner}/uid_map").read_text().splitlines()]
    assert uid_map == [["0", str(user.uid), "1"], ["1", str(user.sub_start), str(RANGE)]]


def test_bind_mount_files_belong_to_the_user_and_its_subordinate_ids(
    engine: RootlessEngine, user: RootlessUser
) -> None:
    shared = user.home / "shared"
    shared.mkdir()
    os.chown(shared, user.uid, user.gid)
    script = "touch /s/by-root && mkdir /s/app && chown 1000:1000 /s/app && chmod 777 /s"
    engine.docker(
        "run", "--rm", "--network", "none", "-v", f"{shared}:/s", "busybox", "sh", "-c", script
    )
    engine.docker(
        "run", "--rm", "--network", "none", "-u", "1000", "-v", f"{shared}:/s",
        "busybox", "touch", "/s/by-1000",
    )  # fmt: skip
    owners = {p.name: (p.lstat().st_uid, p.lstat().st_gid) for p in shared.iterdir()}
    assert owners["by-root"] == (user.uid, user.gid)
    sub_1000 = user.sub_start + 999  # container ID 1 is the range's first
    assert owners["app"] == (sub_1000, sub_1000)
    assert owners["by-1000"][0] == sub_1000
    assert all(uid != 0 for uid, _ in owners.values())


def test_a_named_volume_outlives_its_container(engine: RootlessEngine) -> None:
    engine.docker("volume", "create", "keep")
    run = ("run", "--rm", "--network", "none", "-v", "keep:/data", "busybox")
    engine.docker(*run, "sh", "-c", "echo kept > /data/f")
    out = engine.docker(*run, "cat", "/data/f")
    assert out.stdout == "kept\n"


def _build(engine: RootlessEngine, context: Path, tag: str) -> None:
    """``docker build`` (the classic builder) of the user's ``context`` as the user."""
    user = engine.user
    for path in (context, *context.iterdir()):
        os.chown(path, user.uid, user.gid)
    result = subprocess.run(
        ["runuser", "-u", user.name, "--",
         *user.env(DOCKER_BUILDKIT="0", DOCKER_HOST=f"unix://{engine.socket}"), DOCKER,
         "build", "--network", "none", "-t", tag, str(context)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + engine.log.read_text(errors="replace")[-3000:]


def test_build_runs_its_steps_in_the_namespace(engine: RootlessEngine, user: RootlessUser) -> None:
    context = user.home / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\nRUN echo built > /built && chown 1000:1000 /built\nCMD cat /built\n"
    )
    _build(engine, context, "rootless-built")
    out = engine.docker(
        "run", "--rm", "--network", "none", "rootless-built", "sh", "-c",
        "cat /built; stat -c %u /built",
    )  # fmt: skip
    assert out.stdout == "built\n1000\n"


def test_a_directory_replaced_in_a_layer_hides_the_one_below(
    engine: RootlessEngine, user: RootlessUser
) -> None:
    """An opaque directory: overlayfs marks it with an xattr, which inside the user namespace
    only the ``user.overlay.*`` spelling can be."""
    context = user.home / "opaque-ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN mkdir -p /d/sub && touch /d/old /d/sub/older\n"
        "RUN rm -rf /d && mkdir /d && touch /d/new\n"
    )
    _build(engine, context, "rootless-opaque")
    out = engine.docker("run", "--rm", "--network", "none", "rootless-opaque", "find", "/d")
    assert out.stdout.split() == ["/d", "/d/new"]
    saved = user.home / "opaque.tar"
    engine.docker("save", "-o", str(saved), "rootless-opaque")
    engine.docker("rmi", "rootless-opaque")
    engine.docker("load", "-i", str(saved))
    out = engine.docker("run", "--rm", "--network", "none", "rootless-opaque", "find", "/d")
    assert out.stdout.split() == ["/d", "/d/new"]


def test_a_layer_owned_beyond_the_subordinate_range_is_refused_clearly(
    engine: RootlessEngine, user: RootlessUser
) -> None:
    rootfs = user.home / "unmapped.tar"
    with tarfile.open(rootfs, "w") as tar:
        info = tarfile.TarInfo("etc/owned-far")
        info.uid = info.gid = RANGE + 100  # container ID 0 is the user, 1…RANGE the range
        tar.addfile(info, io.BytesIO(b""))
    os.chown(rootfs, user.uid, user.gid)
    result = engine.docker("import", str(rootfs), "rootless-unmapped", check=False)
    assert result.returncode == 1
    assert (
        "potentially insufficient UIDs or GIDs available in user namespace (requested "
        f"{RANGE + 100}:{RANGE + 100} for /etc/owned-far): Check /etc/subuid and /etc/subgid"
    ) in result.stderr
    images = engine.docker("images", "-q", "rootless-unmapped").stdout
    assert images == ""


def test_containers_on_a_user_network_resolve_each_other(engine: RootlessEngine) -> None:
    engine.docker("network", "create", "rl-net")
    engine.docker("run", "-d", "--name", "rl-peer", "--network", "rl-net", "busybox", "sleep", "60")
    try:
        out = engine.docker(
            "run", "--rm", "--network", "rl-net", "busybox", "ping", "-c1", "-W5", "rl-peer"
        )
        assert "1 packets received" in out.stdout
    finally:
        engine.docker("rm", "-f", "rl-peer", check=False)


def test_network_host_is_the_engines_own_namespace(engine: RootlessEngine) -> None:
    out = engine.docker("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link").stdout
    names = {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}
    host_names = {p.name for p in Path("/sys/class/net").iterdir()}
    assert "lo" in names
    assert names != host_names  # not the host's interfaces


def test_limits_apply_in_a_delegated_cgroup(engine: RootlessEngine) -> None:
    if engine.cgroup is None:
        pytest.skip("cgroup v2 is not this host's only hierarchy: no cgroup can be delegated")
    info = json.loads(engine.docker("info", "--format", "{{json .}}").stdout)
    assert (info["CgroupDriver"], info["MemoryLimit"], info["PidsLimit"]) == (
        "cgroupfs",
        True,
        True,
    )
    result = engine.docker(
        "run", "--rm", "--network", "none", "-m", "64m", "--pids-limit", "20", "busybox",
        "cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max",
    )  # fmt: skip
    assert result.stdout.split() == [str(64 << 20), "20"]
    assert "WARNING" not in result.stderr
    # The containers' cgroups are beside the engine's leaf in the delegated one.
    assert (engine.cgroup / "engine" / "cgroup.procs").read_text().split()


def test_a_memory_limit_is_refused_with_a_warning(engine: RootlessEngine) -> None:
    if engine.cgroup is not None:
        pytest.skip("the engine has a delegated cgroup here: limits apply")
    result = engine.docker("create", "--network", "none", "-m", "64m", "busybox", "true")
    assert (
        "WARNING: Your kernel does not support memory limit capabilities or the cgroup is not "
        "mounted. Limitation discarded." in result.stderr
    )
    container = result.stdout.strip()
    try:
        memory = engine.docker("inspect", "-f", "{{.HostConfig.Memory}}", container).stdout
        assert memory.strip() == "0"
    finally:
        engine.docker("rm", container)


def _http_get(port: int, timeout: float = 20.0) -> bytes:
    """GET / from the host's loopback, retried until the server in the container is up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                reply = b""
                while chunk := conn.recv(4096):
                    reply += chunk
            if reply:
                return reply
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing answered on 127.0.0.1:{port}")
        time.sleep(0.2)


HTTPD = "mkdir -p /www && echo served-rootless > /www/index.html && exec httpd -f -p 80 -h /www"


def test_a_published_port_is_reachable_on_the_hosts_loopback(engine: RootlessEngine) -> None:
    port = free_port()
    engine.docker(
        "run", "-d", "--name", "rl-web", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c", HTTPD
    )  # fmt: skip
    try:
        assert b"served-rootless" in _http_get(port)
        # The host socket is the outer process's, in the host's network namespace.
        assert engine.docker("port", "rl-web", "80").stdout == f"127.0.0.1:{port}\n"
        with socket.socket() as clash, pytest.raises(OSError):
            clash.bind(("127.0.0.1", port))
    finally:
        engine.docker("rm", "-f", "rl-web", check=False)
    with socket.socket() as again:  # released with the container (but for TIME_WAIT)
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()


def test_a_random_host_port_is_reachable_too(engine: RootlessEngine) -> None:
    engine.docker("run", "-d", "--name", "rl-any", "-p", "80", "busybox", "sh", "-c", HTTPD)
    try:
        published = engine.docker("port", "rl-any", "80/tcp").stdout.splitlines()[0]
        assert b"served-rootless" in _http_get(int(published.rsplit(":", 1)[1]))
    finally:
        engine.docker("rm", "-f", "rl-any", check=False)


def test_a_privileged_port_is_refused_with_a_hint(engine: RootlessEngine) -> None:
    start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    if start <= 80:
        pytest.skip("this host lets every user bind port 80")
    result = engine.docker("run", "--rm", "-p", "127.0.0.1:80:80", "busybox", "true", check=False)
    assert result.returncode == 125
    assert "cannot expose privileged port 80" in result.stderr
    assert "net.ipv4.ip_unprivileged_port_start=80" in result.stderr


def test_a_port_the_host_already_uses_is_refused(engine: RootlessEngine) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = engine.docker(
            "run", "--rm", "-p", f"127.0.0.1:{port}:80", "busybox", "true", check=False
        )
    assert result.returncode == 125
    assert f"failed to bind host port for 127.0.0.1:{port}:" in result.stderr
    assert "address already in use" in result.stderr


# Answers each connection with one line, for a bounded time (run inside the namespace).
_SERVER = r"""
import socket, sys, time
server = socket.create_server((sys.argv[1], 0))
print(server.getsockname()[1], flush=True)
server.settimeout(1.0)
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        conn, _ = server.accept()
    except TimeoutError:
        continue
    with conn:
        conn.sendall(b"from-outside\n")
"""


@pytest.fixture
def outside_server() -> Iterator[tuple[str, int]]:
    """A TCP server in a network namespace of this test's own, reached from the host by a veth
    pair: somewhere for containers' outbound traffic to go."""
    tag = secrets.token_hex(3)
    ns, host_end = f"drl-out-{tag}", f"drlo{tag}"
    subnet = 64 + secrets.randbelow(128)
    here, there = f"10.231.{subnet}.1", f"10.231.{subnet}.2"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    ip("netns", "add", ns)
    server: subprocess.Popen[str] | None = None
    try:
        ip("link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("addr", "add", f"{here}/30", "dev", host_end)
        ip("link", "set", host_end, "up")
        ip("-n", ns, "addr", "add", f"{there}/30", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        server = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", _SERVER, there],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        yield there, int(server.stdout.readline())
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", host_end], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def test_containers_reach_out_through_slirp4netns(
    engine: RootlessEngine, outside_server: tuple[str, int]
) -> None:
    if (
        "tap0"
        not in engine.docker(
            "run", "--rm", "--network", "host", "busybox", "ip", "-o", "link"
        ).stdout
    ):
        pytest.fail(f"no tap0: {engine.log.read_text(errors='replace')[-2000:]}")
    address, port = outside_server
    out = engine.docker(
        "run", "--rm", "busybox", "sh", "-c", f"nc -w 5 {address} {port} </dev/null"
    ).stdout
    assert out == "from-outside\n"


def test_info_says_rootless_without_cgroups(engine: RootlessEngine, user: RootlessUser) -> None:
    if engine.cgroup is not None:
        pytest.skip("the engine has a delegated cgroup here")
    info = json.loads(engine.docker("info", "--format", "{{json .}}").stdout)
    assert info["CgroupDriver"] == "none"
    assert "name=rootless" in info["SecurityOptions"]
    assert info["MemoryLimit"] is False
    assert info["DockerRootDir"] == str(user.home / ".local" / "share" / "doca")
    assert any("rootless-mode without cgroups" in w for w in info["Warnings"])
    text = engine.docker("info").stderr
    assert "WARNING: Running in rootless-mode without cgroups." in text


def test_setup_rootless_checks_the_user(user: RootlessUser) -> None:
    doca = [str(Path(sys.executable).with_name("doca")), "setup", "rootless"]
    ready = user.run(doca)
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert f"[OK] subordinate IDs (/etc/subuid): {RANGE} IDs" in ready.stdout
    assert "[OK] outbound network: /usr/bin/slirp4netns" in ready.stdout
    if not (CGROUP_ROOT / "cgroup.controllers").exists():
        assert "[WARNING] resource limits: cgroup v1 cannot be delegated" in ready.stdout
    lacking = user.run(doca, XDG_RUNTIME_DIR="")
    assert lacking.returncode == 1
    assert "[MISSING] XDG_RUNTIME_DIR: XDG_RUNTIME_DIR needs to be set" in lacking.stdout


def test_fuse_overlayfs_serves_where_the_kernel_would_not(
    engine: RootlessEngine, user: RootlessUser, test_image: TestImage
) -> None:
    """``--storage-driver fuse-overlayfs``, what a rootless engine falls back to on a kernel
    that cannot mount overlayfs in a user namespace (before 5.11): containers, an opaque
    directory in a build, and the mounts made by fuse-overlayfs."""
    if shutil.which("fuse-overlayfs") is None:
        pytest.skip("fuse-overlayfs is not installed")
    fuse = RootlessEngine(user, user.scratch / "fuse-engine.log", name="doca-fuse")
    _launch(fuse, "--storage-driver", "fuse-overlayfs")
    try:
        info = json.loads(fuse.docker("info", "--format", "{{json .}}").stdout)
        assert info["Driver"] == "fuse-overlayfs"
        tar = user.home / "busybox.tar"  # the module's engine copied it there
        fuse.docker("load", "-i", str(tar))
        script = "grep ' / ' /proc/self/mountinfo; echo made > /f && cat /f"
        out = fuse.docker("run", "--rm", "--network", "none", "busybox", "sh", "-c", script)
        assert "fuse.fuse-overlayfs" in out.stdout
        assert out.stdout.endswith("made\n")
        context = user.home / "fuse-ctx"
        context.mkdir()
        (context / "Dockerfile").write_text(
            "FROM busybox\nRUN mkdir -p /d && touch /d/old\n"
            "RUN rm -rf /d && mkdir /d && touch /d/new\n"
        )
        _build(fuse, context, "fuse-opaque")
        found = fuse.docker("run", "--rm", "--network", "none", "fuse-opaque", "find", "/d")
        assert found.stdout.split() == ["/d", "/d/new"]
        inspect = fuse.docker("inspect", "-f", "{{.GraphDriver.Name}}", "fuse-opaque").stdout
        assert inspect.strip() == "fuse-overlayfs"
    finally:
        _stop(fuse)


def _live(pids: list[int]) -> dict[int, str]:
    """The processes among ``pids`` that have not exited (zombies wait for init to reap them)."""
    live = {}
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            status = _status(pid)
            if not status.get("State", "").startswith(("Z", "X")):
                live[pid] = status.get("Name", "")
    return live


def test_containers_stop_with_the_engine_and_restart_by_policy(
    engine: RootlessEngine, user: RootlessUser
) -> None:
    """Last in the module: it restarts the engine. The containers live in the engine's
    namespaces, which a new engine does not share, so they stop with it (as rootless Docker's
    do) and restart policies bring them back."""
    sleeper = ("--stop-timeout", "2", "busybox", "sleep", "600")
    engine.docker("run", "-d", "--name", "rl-always", "--restart", "always", *sleeper)
    engine.docker("run", "-d", "--name", "rl-once", *sleeper)
    _stop(engine)
    assert engine.proc is not None and engine.proc.returncode is not None
    assert _live(user.owned_pids()) == {}  # no container, conmon or engine process is left
    _launch(engine)
    state = "{{.State.Status}} {{.State.ExitCode}}"
    deadline = time.monotonic() + 20
    while engine.docker("inspect", "-f", state, "rl-always").stdout.split()[0] != "running":
        assert time.monotonic() < deadline, engine.log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)
    assert engine.docker("exec", "rl-always", "echo", "back").stdout == "back\n"
    assert engine.docker("inspect", "-f", state, "rl-once").stdout.split() == ["exited", "137"]
    engine.docker("rm", "-f", "rl-always", "rl-once")
