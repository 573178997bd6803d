"""Image and system commands of `doca` against a real doca-engine, next to the real docker CLI:
tag, rmi, save, load, history, image prune, system prune, events; and `doca engine` starting and
stopping an engine of its own on a private socket and data root."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from doca.cli.engine_commands import elevated, is_engine
from doca.cli.timestamps import get_timestamp
from tests.support.engine import (
    DockerCLI,
    EngineProcess,
    remove_network_state,
    short_root,
    unique_bridge_name,
)
from tests.support.testimage import TestImage

pytestmark = [pytest.mark.e2e]

DOCA = Path(sys.executable).with_name("doca")


def doca(
    host: str, *args: str, input: bytes | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [str(DOCA), "-H", host, *args], capture_output=True, env=env, timeout=timeout, input=input
    )


def docker_bytes(
    docker: DockerCLI, *args: str, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [shutil.which("docker") or "docker", *args], capture_output=True, env=docker.env(),
        timeout=120, input=input,
    )  # fmt: skip


def outcome(result: subprocess.CompletedProcess[bytes]) -> tuple[int, str, str]:
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def assert_same(engine: EngineProcess, docker: DockerCLI, *args: str, input: bytes = b"") -> str:
    mine = outcome(doca(engine.host, *args, input=input))
    theirs = outcome(docker_bytes(docker, *args, input=input))
    assert mine == theirs, args
    return mine[1]


@pytest.fixture
def busybox(engine: EngineProcess, docker: DockerCLI, test_image: TestImage) -> TestImage:
    """busybox loaded (again: a test may have pruned it)."""
    docker("load", "-i", str(test_image.save_tar))
    return test_image


def _image_id(docker: DockerCLI, name: str = "busybox") -> str:
    return docker("image", "inspect", "-f", "{{.Id}}", name).stdout.strip()


def test_tag_and_rmi_match_docker(engine: EngineProcess, docker: DockerCLI, busybox: TestImage):
    for cli in ("doca", "docker"):
        run = (lambda *a: doca(engine.host, *a)) if cli == "doca" else (
            lambda *a: docker_bytes(docker, *a))  # fmt: skip
        assert outcome(run("tag", "busybox", "t-one:1")) == (0, "", "")
        assert outcome(run("tag", "busybox", "localhost:5000/team/t-two")) == (0, "", "")
        tags = docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
        assert {"t-one:1", "localhost:5000/team/t-two:latest"} <= set(tags), cli
        assert outcome(run("rmi", "t-one:1", "localhost:5000/team/t-two")) == (
            0, "Untagged: t-one:1\nUntagged: localhost:5000/team/t-two:latest\n", "",
        ), cli  # fmt: skip
    for args in (("tag", "busybox", "Bad:1"), ("tag", "nosuch", "x:1"),
                 ("tag", "busybox", "x@sha256:" + "a" * 64), ("rmi", "nosuch"),
                 ("rmi", "-f", "nosuch"), ("image", "rm", "nosuch"),
                 ("image", "remove", "nosuch:2")):  # fmt: skip
        assert_same(engine, docker, *args)


def test_rmi_deletes_an_image_as_docker_does(
    engine: EngineProcess, docker: DockerCLI, busybox: TestImage
) -> None:
    image_id = _image_id(docker)
    removed = outcome(doca(engine.host, "rmi", "busybox"))
    assert removed == (0, f"Untagged: busybox:latest\nDeleted: {image_id}\n", "")
    docker("load", "-i", str(busybox.save_tar))
    assert outcome(docker_bytes(docker, "rmi", "busybox")) == removed
    docker("load", "-i", str(busybox.save_tar))
    args = ("rmi", "busybox", "nosuch", "-f", "--no-prune")
    mine = outcome(doca(engine.host, *args))
    assert mine[0] == 0 and mine[1].startswith("Untagged: busybox:latest\n")
    docker("load", "-i", str(busybox.save_tar))
    assert mine == outcome(docker_bytes(docker, *args))


def test_save_and_load_match_docker(
    engine: EngineProcess, docker: DockerCLI, busybox: TestImage, tmp_path: Path
) -> None:
    mine, theirs = doca(engine.host, "save", "busybox"), docker_bytes(docker, "save", "busybox")
    assert (mine.returncode, mine.stderr) == (0, b"")
    assert mine.stdout == theirs.stdout
    assert outcome(doca(engine.host, "save", "-o", str(tmp_path / "a.tar"), "busybox")) == (
        0, "", "")  # fmt: skip
    assert (tmp_path / "a.tar").read_bytes() == theirs.stdout
    assert oct((tmp_path / "a.tar").stat().st_mode & 0o777) == "0o600"
    assert_same(engine, docker, "save", "nosuch")
    assert_same(engine, docker, "save", "-o", str(tmp_path / "b.tar"), "nosuch")
    assert not (tmp_path / "b.tar").exists()
    archive = str(tmp_path / "a.tar")
    for args in (("load", "-i", archive), ("load", "-q", "-i", archive), ("image", "load", "-i",
                 archive), ("load", "-i", "/nonexistent.tar")):  # fmt: skip
        assert_same(engine, docker, *args)
    assert_same(engine, docker, "load", input=theirs.stdout)
    (tmp_path / "junk.tar").write_bytes(b"not a tar")
    assert_same(engine, docker, "load", "-i", str(tmp_path / "junk.tar"))


def _on_a_terminal(argv: list[str], env: dict[str, str], stream: str) -> tuple[int, bytes]:
    """Run ``argv`` with its stdin or stdout on a pseudo-terminal; its exit code and stderr."""
    controller, terminal = pty.openpty()
    try:
        redirect = {stream: terminal}
        result = subprocess.run(argv, env=env, stderr=subprocess.PIPE, timeout=60,
                                **redirect)  # type: ignore[call-overload]  # fmt: skip
    finally:
        os.close(controller)
        os.close(terminal)
    return result.returncode, result.stderr


def test_save_and_load_refuse_terminals_as_docker(engine: EngineProcess, docker: DockerCLI):
    env = {**os.environ, "DOCKER_HOST": engine.host, "DOCKER_CONFIG": str(docker.config_dir)}
    for args, stream in ((["save", "busybox"], "stdout"), (["load"], "stdin")):
        mine = _on_a_terminal([str(DOCA), *args], env, stream)
        theirs = _on_a_terminal([shutil.which("docker") or "docker", *args], env, stream)
        assert mine == theirs
        assert mine[0] == 1


def test_history_matches_docker(engine: EngineProcess, docker: DockerCLI, busybox: TestImage):
    for args in (("history", "busybox"), ("history", "--no-trunc", "busybox"),
                 ("history", "-q", "busybox"), ("history", "-q", "--no-trunc", "busybox"),
                 ("history", "--human=false", "busybox"),
                 ("history", "--format", "json", "busybox"),
                 ("history", "--format", "table {{.ID}}\\t{{.Size}}\\t{{.CreatedAt}}", "busybox"),
                 ("image", "history", "nosuch")):  # fmt: skip
        assert_same(engine, docker, *args)


def _dangling_image(engine: EngineProcess, docker: DockerCLI, busybox: TestImage) -> str:
    """busybox again, but without a tag: saved by ID, removed, loaded back."""
    image_id = _image_id(docker)
    archive = busybox.save_tar.with_name("by-id.tar")
    if not archive.exists():
        docker("save", "-o", str(archive), image_id)
    docker("rmi", "-f", image_id)
    docker("load", "-i", str(archive))
    return image_id


@pytest.mark.parametrize("cli", ["doca", "docker"])
def test_image_prune_as_docker_does(
    engine: EngineProcess, docker: DockerCLI, busybox: TestImage, cli: str
) -> None:
    def run(*args: str, input: bytes = b"") -> tuple[int, str, str]:
        if cli == "doca":
            return outcome(doca(engine.host, *args, input=input))
        return outcome(docker_bytes(docker, *args, input=input))

    question = "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
    assert run("image", "prune", input=b"n\n") == (0, question + " [y/N] ", "")
    image_id = _dangling_image(engine, docker, busybox)
    assert run("image", "prune", input=b"y\n") == (
        0, f"{question} [y/N] Deleted Images:\ndeleted: {image_id}\n\n"
        "Total reclaimed space: 1.982MB\n", "",
    )  # fmt: skip
    docker("load", "-i", str(busybox.save_tar))
    assert run("image", "prune", "-a", "-f") == (
        0, f"Deleted Images:\nuntagged: busybox:latest\ndeleted: {image_id}\n\n"
        "Total reclaimed space: 1.982MB\n", "",
    )  # fmt: skip
    assert run("image", "prune", "-f") == (0, "Total reclaimed space: 0B\n", "")
    docker("load", "-i", str(busybox.save_tar))


@pytest.mark.parametrize("cli", ["doca", "docker"])
def test_system_prune_as_docker_does(
    engine: EngineProcess, docker: DockerCLI, busybox: TestImage, cli: str
) -> None:
    def run(*args: str, input: bytes = b"") -> tuple[int, str, str]:
        if cli == "doca":
            return outcome(doca(engine.host, *args, input=input))
        return outcome(docker_bytes(docker, *args, input=input))

    declined = run("system", "prune", "--volumes", "--filter", "label=x=1", input=b"\n")
    assert declined == (0, (
        "WARNING! This will remove:\n  - all stopped containers\n"
        "  - all networks not used by at least one container\n"
        "  - all anonymous volumes not used by at least one container\n"
        "  - all dangling images\n  - unused build cache\n\n"
        "  Items to be pruned will be filtered with:\n  - label=x=1\n\n"
        "Are you sure you want to continue? [y/N] "), "")  # fmt: skip
    stopped = docker("create", "busybox", "true").stdout.strip()
    docker("network", "create", "prune-net")
    docker("volume", "create", "named-vol")
    anonymous = docker("volume", "create").stdout.strip()
    pruned = run("system", "prune", "-f", "--volumes")
    assert pruned == (
        0,
        f"Deleted Containers:\n{stopped}\n\nDeleted Networks:\nprune-net\n\n"
        f"Deleted Volumes:\n{anonymous}\n\nTotal reclaimed space: 0B\n",
        "",
    )
    assert docker("volume", "ls", "-q").stdout.split() == ["named-vol"]
    docker("volume", "rm", "named-vol")
    assert run("system", "prune", "--volumes", "--filter", "until=1h") == (
        1, "", 'ERROR: The "until" filter is not supported with "--volumes"\n')  # fmt: skip


def test_events_match_docker(engine: EngineProcess, docker: DockerCLI, busybox: TestImage):
    since = str(int(time.time()) - 1)
    docker("volume", "create", "--label", "ev=1", "ev-vol")
    docker("create", "--name", "ev-box", "-l", "ev=1", "busybox", "true")
    docker("rm", "ev-box")
    docker("volume", "rm", "ev-vol")
    time.sleep(1.1)
    until = str(int(time.time()))
    window = ("--since", since, "--until", until)
    for extra in ((), ("--format", "json"), ("--format", "{{.Type}} {{.Action}} {{.Actor.ID}}"),
                  ("--format", "{{.Status}}|{{.ID}}|{{.Actor.Attributes.name}}|{{.Scope}}"),
                  ("--filter", "type=container"), ("-f", "event=create", "-f", "type=volume"),
                  ("--format", "{{json .Actor}}", "--filter", "label=ev=1")):  # fmt: skip
        text = assert_same(engine, docker, "events", *window, *extra)
        assert text, extra
    assert_same(engine, docker, "system", "events", *window, "--filter", "container=ev-box")
    for args in (
        ("events", "--format", "{{.Foo}}"),
        ("events", "--format", "{{if}}"),
        ("events", "--since", "yesterday"),
        ("events", "--until", "2024-13-45"),
    ):
        mine, theirs = outcome(doca(engine.host, *args)), outcome(docker_bytes(docker, *args))
        assert mine[0] == theirs[0], args
        if "--format" in args:
            assert mine == theirs


def test_relative_since_and_until(engine: EngineProcess, docker: DockerCLI, busybox: TestImage):
    docker("create", "--name", "ev-rel", "busybox", "true")
    docker("rm", "ev-rel")
    time.sleep(1.1)
    args = ("events", "--since", "2m", "--until", "0s", "--filter", "container=ev-rel")
    text = assert_same(engine, docker, *args)
    assert " container create " in text and " container destroy " in text


# -- doca engine ----------------------------------------------------------------------------------
def test_elevated_command_uses_sudo_or_pkexec() -> None:
    line = elevated(["doca", "engine", "start", "-H", "unix:///x y.sock"])
    assert line.split()[0] in ("sudo", "pkexec")
    assert line.endswith("doca engine start -H 'unix:///x y.sock'")


@pytest.fixture
def private_engine() -> Iterator[tuple[Path, str, str]]:
    """A state directory, a socket and a default bridge for an engine `doca engine start`
    runs; whatever it leaves on the host is removed."""
    if os.geteuid() != 0:
        pytest.skip("starting doca-engine needs root")
    root = short_root()
    bridge = unique_bridge_name()
    try:
        yield root, f"unix://{root}/doca.sock", bridge
    finally:
        pid = (root / "engine.pid").read_text().strip() if (root / "engine.pid").exists() else ""
        if pid and is_engine(int(pid)):
            subprocess.run([str(DOCA), "engine", "stop", "--state-dir", str(root)], timeout=90)
        remove_network_state(root / "data", bridge)
        shutil.rmtree(root, ignore_errors=True)


def test_engine_start_status_logs_stop(private_engine: tuple[Path, str, str]) -> None:
    root, host, bridge = private_engine
    state = ("--state-dir", str(root))
    started = doca(host, "engine", "start", *state, "--data-root", str(root / "data"),
                   "--exec-root", str(root / "exec"), "--", "--bridge", bridge)  # fmt: skip
    assert started.returncode == 0, started.stderr
    pid = int((root / "engine.pid").read_text())
    assert started.stdout.decode() == (
        f"Engine started at {host} (pid {pid}); log: {root / 'engine.log'}\n"
    )
    assert is_engine(pid)
    again = doca(host, "engine", "start", *state)
    assert again.returncode == 1 and b"already running" in again.stderr

    status = doca(host, "engine", "status", *state).stdout.decode()
    assert status.startswith(f"● Engine running at {host}: version ")
    assert f"PID:        {pid} ({root / 'engine.pid'})" in status
    assert f"Data root:  {root / 'data'}" in status
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    probe = subprocess.run(["docker", "-H", host, "version", "-f", "{{.Server.Platform.Name}}"],
                           capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert probe.stdout == "Doca Engine\n"

    log = (root / "engine.log").read_bytes()
    assert b"ready" in log
    assert doca(host, "engine", "logs", *state).stdout == log
    assert doca(host, "engine", "logs", *state, "-n", "1").stdout == log.splitlines(True)[-1]
    follower = subprocess.Popen([str(DOCA), "engine", "logs", *state, "-f", "-n", "0"],
                                stdout=subprocess.PIPE)  # fmt: skip
    try:
        time.sleep(1)
        doca(host, "volume", "create", "followed")  # something the engine logs at debug level
        with (root / "engine.log").open("ab") as out:
            out.write(b"a line written while following\n")
        assert follower.stdout is not None
        deadline = time.monotonic() + 20
        seen = b""
        while b"a line written while following" not in seen and time.monotonic() < deadline:
            seen += os.read(follower.stdout.fileno(), 4096)
        assert b"a line written while following" in seen
    finally:
        follower.terminate()
        follower.wait(10)

    stopped = doca(host, "engine", "stop", *state)
    assert outcome(stopped) == (0, f"Engine stopped (pid {pid})\n", "")
    assert not Path(f"/proc/{pid}").exists() or not is_engine(pid)
    assert not (root / "engine.pid").exists()
    down = doca(host, "engine", "status", *state)
    assert down.returncode == 1
    assert b"Cannot connect to the Doca engine" in down.stderr
    none = doca(host, "engine", "stop", *state)
    assert none.returncode == 1 and b"no pidfile" in none.stderr


def test_engine_stop_signals_only_doca_engine(private_engine: tuple[Path, str, str]) -> None:
    root, host, _ = private_engine
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        (root / "engine.pid").write_text(f"{sleeper.pid}\n")
        refused = doca(host, "engine", "stop", "--state-dir", str(root))
        assert refused.returncode == 1
        assert refused.stderr.decode() == (
            f"pid {sleeper.pid} from {root / 'engine.pid'} is not doca-engine; not stopping it\n"
        )
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()
        (root / "engine.pid").unlink()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10m", "400"),
        ("1h30m", "-4400"),
        ("2024-01-01T00:00:00Z", "1704067200.000000000"),
        ("2024-01-01T00:00:00.5+01:00", "1704063600.500000000"),
        ("1700000000.5", "1700000000.5"),
    ],
)
def test_since_and_until_read_as_docker_reads_them(value: str, expected: str) -> None:
    assert get_timestamp(value, 1000.0) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", 'failed to parse value as time or duration: "yesterday"'),
        ("2024-13-01", 'parsing time "2024-13-01": month out of range'),
        ("2024-02-30", 'parsing time "2024-02-30": day out of range'),
    ],
)
def test_bad_since_and_until(value: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        get_timestamp(value, 0)
    assert str(error.value) == message


def test_version_flag_prints_the_package_version() -> None:
    """``doca --version`` / ``-v`` as ``docker --version``: no engine is asked."""
    expected = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    doca = str(Path(sys.executable).with_name("doca"))
    for flag in ("--version", "-v"):
        result = subprocess.run(
            [doca, flag], capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/doca.sock"},
        )  # fmt: skip
        assert (result.returncode, result.stdout) == (
            0,
            f"Doca version {expected['project']['version']}\n",
        )
