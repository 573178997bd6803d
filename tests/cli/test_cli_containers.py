"""`doca`'s container commands against a real doca-engine, each next to the real docker CLI doing
the same: output, error texts and exit codes; TTY sessions under a pseudo-terminal."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import signal
import stat
import struct
import subprocess
import sys
import tarfile
import termios
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from doca.cli import container_archive as archive
from doca.cli.container_cp import split_cp_arg
from doca.cli.container_stats import columns, entry_from_sample, stats_row
from doca.cli.container_terminal import DetachMatcher, parse_detach_keys
from tests.support.engine import DOCKER, DockerCLI, EngineProcess
from tests.support.registry import docker_registry, registry_available

DOCA = Path(sys.executable).with_name("doca")
e2e = pytest.mark.e2e
LOOP = "trap 'exit 0' TERM; while true; do sleep 0.1; done"
Result = subprocess.CompletedProcess[str]


@dataclass
class Clis:
    """The docker CLI and doca against the same engine, with the same environment."""

    engine: EngineProcess
    docker_cli: DockerCLI

    def env(self) -> dict[str, str]:
        return self.docker_cli.env()

    def tool(self, name: str) -> list[str]:
        return [DOCKER] if name == "docker" else [str(DOCA), "-H", self.engine.host]

    def run(self, name: str, *args: str, input: str | None = None, timeout: float = 60) -> Result:
        """``args`` with the docker CLI (``name`` "docker") or doca."""
        return subprocess.run(
            [*self.tool(name), *args], input=input, capture_output=True, text=True,
            env=self.env(), timeout=timeout,
        )  # fmt: skip

    def run_bytes(
        self, name: str, *args: str, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*self.tool(name), *args], input=input, capture_output=True, env=self.env(),
            timeout=120,
        )  # fmt: skip

    def doca(self, *args: str, input: str | None = None) -> Result:
        return self.run("doca", *args, input=input)

    def docker(self, *args: str, input: str | None = None) -> Result:
        return self.run("docker", *args, input=input)

    def both(self, *args: str, input: str | None = None) -> tuple[Result, Result]:
        return self.docker(*args, input=input), self.doca(*args, input=input)


@pytest.fixture(scope="module")
def cli(engine: EngineProcess, docker: DockerCLI, loaded_busybox: object) -> Clis:
    # Logins of their own, so that neither CLI asks a desktop keychain about registries.
    (docker.config_dir / "config.json").write_text('{"auths": {"placeholder.invalid": {}}}')
    return Clis(engine, docker)


def as_doca(text: str) -> str:
    """The docker CLI's text as doca words it: its own name changed, not a container's."""
    return re.sub(r"(?<![\w-])docker(?![\w-])", "doca", text)


def same(expected: Result, got: Result) -> None:
    """The same exit code and output, the program's name aside."""
    assert (got.returncode, got.stdout, got.stderr) == (
        expected.returncode, as_doca(expected.stdout), as_doca(expected.stderr),
    )  # fmt: skip


def run_error(docker_stderr: str) -> str:
    """What doca prints for an engine error of `run`: the docker CLI's line without its
    ``docker:`` prefix and the pointer to the help."""
    line = docker_stderr.split("\n\nRun 'docker run --help'")[0]
    return line.replace("docker: ", "", 1) + "\n"


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getnames()


def remove(cli: Clis, *names: str) -> None:
    cli.docker("rm", "-f", *names)


def state(cli: Clis, name: str) -> dict[str, object]:
    return dict(json.loads(cli.docker("inspect", "-f", "{{json .State}}", name).stdout))


def wait_running(cli: Clis, name: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cli.docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true":
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} did not start")


# -- a pseudo-terminal with bounded reads -----------------------------------------------------


Step = tuple[float | bytes, bytes | tuple[int, int]]
PROMPT = b"/ # "


def in_pty(
    argv: Sequence[str],
    steps: Sequence[Step],
    env: dict[str, str],
    size: tuple[int, int] = (33, 101),
    timeout: float = 40,
) -> tuple[int | None, bytes]:
    """Run ``argv`` on a new pseudo-terminal of ``size``. Each step waits (its seconds, or
    until its bytes appear in the output), then types its bytes or resizes the terminal to its
    (rows, cols). The exit code (None if it had to be killed) and all output."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execve(argv[0], list(argv), env)
    output = bytearray()

    def resize(rows: int, cols: int) -> None:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def read_for(seconds: float) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], min(0.05, max(0, end - time.monotonic())))
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    return False
                if not data:
                    return False
                output.extend(data)
        return True

    resize(*size)
    deadline = time.monotonic() + timeout
    try:
        for wait, action in steps:
            if isinstance(wait, bytes):
                seen = len(output)
                while wait not in output[seen:] and time.monotonic() < deadline:
                    if not read_for(0.05):
                        break
                read_for(0.3)
            else:
                read_for(wait)
            if isinstance(action, tuple):
                resize(*action)
            elif action:
                os.write(fd, action)
        while time.monotonic() < deadline and read_for(0.1):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                read_for(0.2)
                return os.waitstatus_to_exitcode(status), bytes(output)
        remaining = max(0.0, deadline - time.monotonic())
        for _ in range(int(remaining / 0.05) + 1):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status), bytes(output)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None, bytes(output)
    finally:
        os.close(fd)


def pty_both(
    cli: Clis,
    args: Sequence[str],
    steps: Sequence[Step],
    before: Sequence[Sequence[str]] = (),
) -> dict[str, tuple[int | None, bytes]]:
    """The same session with each CLI; ``before`` are docker commands run before each."""
    results = {}
    for name in ("docker", "doca"):
        for command in before:
            cli.docker(*command)
        results[name] = in_pty([*cli.tool(name), *args], steps, cli.env())
    return results


# -- pure helpers -----------------------------------------------------------------------------


def test_detach_keys() -> None:
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("ctrl-@,ctrl-[,a,DEL") == b"\x00\x1ba\x7f"
    with pytest.raises(ValueError, match="Unknown character: 'ctrl-'"):
        parse_detach_keys("ctrl-")
    matcher = DetachMatcher(b"\x10\x11")
    assert matcher.feed(b"ab\x10") == (b"ab", False)
    assert matcher.feed(b"c") == (b"\x10c", False)
    assert matcher.feed(b"\x10\x10") == (b"\x10", False)
    assert matcher.feed(b"\x11rest") == (b"", True)


def test_cp_arguments() -> None:
    assert split_cp_arg("box:/etc") == ("box", "/etc")
    assert split_cp_arg("/a:b") == ("", "/a:b")
    assert split_cp_arg("./a:b") == ("", "./a:b")
    assert split_cp_arg("file") == ("", "file")
    assert archive.local_path("x/.").endswith("/x/.")
    assert archive.local_path("x/").endswith("/x/")


def test_where_a_copy_lands(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to("dir")
    source_dir = archive.CopyInfo("/c/src", True, True)
    source_file = archive.CopyInfo("/c/f", True, False)
    into = archive.destination_info(str(tmp_path / "dir"))
    assert archive.prepare_copy(source_dir, into) == (str(tmp_path / "dir"), ())
    new = archive.destination_info(str(tmp_path / "new"))
    assert archive.prepare_copy(source_dir, new) == (str(tmp_path), (("src", "new"),))
    assert archive.destination_info(str(tmp_path / "link")).is_dir
    with pytest.raises(ValueError, match="cannot copy directory"):
        archive.prepare_copy(source_dir, archive.destination_info(str(tmp_path / "file")))
    with pytest.raises(ValueError, match="no such directory"):
        archive.prepare_copy(source_file, archive.destination_info(str(tmp_path / "new") + "/"))
    with pytest.raises(ValueError, match="no such file or directory"):
        archive.destination_info(str(tmp_path / "missing" / "x"))
    followed = archive.source_info(str(tmp_path / "link") + "/", follow_link=False)
    assert (followed.path, followed.rebase_name) == (str(tmp_path / "dir") + "/", "link")


def test_local_archives_round_trip(tmp_path: Path) -> None:
    tree = tmp_path / "src"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f").write_text("data")
    (tree / "sub" / "f").chmod(0o4750)
    os.link(tree / "sub" / "f", tree / "hard")
    (tree / "sym").symlink_to("sub/f")
    spool = io.BytesIO()
    size = archive.write_source_tar(archive.CopyInfo(str(tree), True, True), spool, ())
    assert size == len(spool.getvalue()) and size % 512 == 0
    assert _names(spool.getvalue()) == ["src", "src/hard", "src/sub", "src/sub/f", "src/sym"]
    spool.seek(0)
    read = archive.extract_tar(spool, str(tmp_path / "out"), (("src", "copy"),))
    assert read == size
    copy = tmp_path / "out" / "copy"
    assert (copy / "sub" / "f").read_text() == "data"
    assert stat.S_IMODE((copy / "sub" / "f").stat().st_mode) == 0o4750
    assert (copy / "hard").stat().st_ino == (copy / "sub" / "f").stat().st_ino
    assert os.readlink(copy / "sym") == "sub/f"
    escape = io.BytesIO()
    with tarfile.open(fileobj=escape, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("../outside"))
    escape.seek(0)
    with pytest.raises(ValueError, match="is outside of"):
        archive.extract_tar(escape, str(tmp_path / "out"), ())


def test_stats_rows_and_top_columns() -> None:
    sample = {
        "name": "/web", "id": "a" * 64,
        "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000,
                      "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
        "memory_stats": {"usage": 10 * 1024 * 1024, "limit": 64 * 1024 * 1024,
                         "stats": {"inactive_file": 2 * 1024 * 1024}},
        "networks": {"eth0": {"rx_bytes": 1250, "tx_bytes": 516}},
        "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 4096},
                                                       {"op": "Write", "value": 8192}]},
        "pids_stats": {"current": 3},
    }  # fmt: skip
    assert stats_row(entry_from_sample("web", sample)) == (
        "aaaaaaaaaaaa", "web", "40.00%", "8MiB / 64MiB", "12.50%", "1.25kB / 516B",
        "4.1kB / 8.19kB", "3",
    )  # fmt: skip
    assert columns([["UID", "PID", "CMD"], ["root", "1", "sleep 1"]], 20).splitlines() == [
        "UID                 PID                 CMD",
        "root                1                   sleep 1",
    ]


# -- run and create ---------------------------------------------------------------------------


@e2e
def test_run_output_and_exit_codes_match_docker(cli: Clis, tmp_path: Path) -> None:
    expected, got = cli.both("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    same(expected, got)
    for command, code in (("nosuchcmd", 127), ("/etc/passwd", 126)):
        expected, got = cli.both("run", "--rm", "busybox", command)
        assert got.returncode == expected.returncode == code
        assert got.stderr == run_error(expected.stderr)
    # Pulled from a registry that is not there: the engine words the failure.
    expected, got = cli.both("run", "--rm", "127.0.0.1:1/no-such-image:1")
    assert got.returncode == expected.returncode == 125
    assert got.stderr == run_error(expected.stderr)
    expected, got = cli.both(
        "run", "--rm", "-a", "stdout", "busybox", "sh", "-c", "echo o; echo e >&2"
    )
    same(expected, got)
    expected, got = cli.both("run", "-i", "--rm", "busybox", "cat", input="piped\nlines\n")
    same(expected, got)
    # Stdin from a regular file, which the event loop cannot watch.
    for_stdin = tmp_path / "stdin"
    for_stdin.write_text("from a file\n" * 1000)
    read = []
    for name in ("docker", "doca"):
        with for_stdin.open() as stdin:
            read.append(subprocess.run(
                [*cli.tool(name), "run", "-i", "--rm", "busybox", "wc", "-l"], stdin=stdin,
                capture_output=True, text=True, env=cli.env(), timeout=60,
            ))  # fmt: skip
    assert read[1].stdout == read[0].stdout == "1000\n"
    # With a TTY, all output is stdout.
    expected, got = cli.both("run", "-t", "--rm", "busybox", "sh", "-c", "echo x >&2")
    same(expected, got)


@e2e
@pytest.mark.parametrize(
    "args",
    [
        ("-m", "x", "busybox"),
        ("--cpus", "abc", "busybox"),
        ("--health-interval", "1d", "busybox"),
        ("--ulimit", "nofile=20:10", "busybox"),
        ("--no-healthcheck", "--health-cmd", "true", "busybox"),
        ("--rm", "--restart", "always", "busybox"),
        ("--network-alias", "x", "busybox"),
        ("--pull", "sometimes", "busybox"),
        ("--mount", "type=bind,target=/x,color=red", "busybox"),
        ("--expose", "1:2", "busybox"),
        ("--env-file", "/nonexistent", "busybox"),
        ("-d", "-a", "stdout", "busybox"),
        ("-it", "busybox", "true"),
    ],
)
def test_flags_refused_as_docker_refuses_them(cli: Clis, args: tuple[str, ...]) -> None:
    expected, got = cli.both("run", *args, input="")
    same(expected, got)


@e2e
def test_detached_runs(cli: Clis) -> None:
    for name in ("docker", "doca"):
        result = cli.run(name, "run", "-d", "--rm", "busybox", "sleep", "0.3")
        assert re.fullmatch(r"[0-9a-f]{64}\n", result.stdout) and result.returncode == 0
        deadline = time.monotonic() + 20
        while cli.docker("inspect", result.stdout.strip()).returncode == 0:
            assert time.monotonic() < deadline, "--rm did not remove the container"
            time.sleep(0.1)
    # A start that fails after a detached create still printed the ID.
    expected, got = cli.both("run", "-d", "busybox", "nosuchcmd")
    assert got.returncode == expected.returncode == 127
    assert re.fullmatch(r"[0-9a-f]{64}\n", got.stdout)
    assert got.stderr == run_error(expected.stderr)
    remove(cli, expected.stdout.strip(), got.stdout.strip())


@e2e
def test_create_with_many_flags_makes_the_container_docker_makes(cli: Clis, tmp_path: Path) -> None:
    cli.docker("network", "create", "flags-net")
    cli.docker("volume", "create", "flags-vol")
    env_file = tmp_path / "env"
    env_file.write_text("# settings\nFROM_FILE=1\n")
    flags = [
        "-it", "-v", f"{tmp_path}:/b:ro", "-v", "named:/c", "-v", "/anon",
        "--mount", "type=tmpfs,target=/t,tmpfs-size=1m",
        "--mount", "type=volume,source=flags-vol,target=/v2,volume-label=a=b",
        "--tmpfs", "/scratch:size=1m", "-w", "/w", "-u", "1:2", "--entrypoint", "sh",
        "-l", "a=1", "-l", "b", "--hostname", "h", "--add-host", "db:10.1.2.3",
        "--dns", "9.9.9.9", "--dns-search", "corp", "--dns-option", "ndots:2", "--init",
        "-m", "64m", "--memory-reservation", "32m", "--cpus", "1.5", "--cpu-shares", "512",
        "--pids-limit", "10", "--cap-add", "net_admin", "--cap-drop", "CHOWN", "--read-only",
        "--security-opt", "no-new-privileges", "--health-cmd", "true", "--health-interval",
        "1s", "--health-retries", "3", "--health-timeout", "2s", "--health-start-period",
        "3s", "--stop-signal", "SIGINT", "--stop-timeout", "5", "--shm-size", "1m",
        "--ulimit", "nofile=10:20", "--ulimit", "nproc=50", "--device", "/dev/null:/dev/nul2:r",
        "--expose", "80", "--expose", "90-91/udp", "-p", "127.0.0.1:8080:80", "-p", "53/udp",
        "-e", "A=1", "--env-file", str(env_file), "--restart", "on-failure:3",
        "--network", "flags-net", "--network-alias", "alias1", "--ip6", "fd00::5",
        "--mac-address", "92:d0:c6:0a:29:33", "--sysctl", "net.ipv4.ip_forward=1",
        "--group-add", "1234", "--oom-score-adj", "5", "--log-driver", "json-file",
        "--log-opt", "max-size=1m",
    ]  # fmt: skip
    try:
        made = cli.docker("create", "--name", "flags-docker", *flags, "busybox", "echo", "hi")
        ours = cli.doca("create", "--name", "flags-doca", *flags, "busybox", "echo", "hi")
        assert (ours.returncode, ours.stderr) == (made.returncode, made.stderr) == (0, "")
        assert re.fullmatch(r"[0-9a-f]{64}\n", ours.stdout)
        inspected = json.loads(cli.docker("inspect", "flags-docker", "flags-doca").stdout)
        theirs, mine = inspected
        for found in inspected:  # the docker CLI sends them in its map's random order
            found["HostConfig"]["Binds"].sort()
        for section in ("Config", "HostConfig"):
            assert mine[section] == theirs[section], section
        # Anonymous volumes have names of their own; dockerd lists mounts in its map's order.
        anonymous = {"Name": "…", "Source": "…"}
        mounts = [
            sorted(
                (m | anonymous if len(m.get("Name", "")) == 64 else m for m in found["Mounts"]),
                key=lambda m: m["Destination"],
            )
            for found in inspected
        ]
        assert mounts[1] == mounts[0]
        networks = [i["NetworkSettings"]["Networks"]["flags-net"] for i in inspected]
        for key in ("Aliases", "IPAMConfig", "MacAddress"):
            assert networks[1][key] == networks[0][key], key
    finally:
        remove(cli, "flags-docker", "flags-doca")
        cli.docker("volume", "rm", "-f", "flags-vol", "named")
        cli.docker("network", "rm", "flags-net")


@e2e
def test_signals_reach_the_container(cli: Clis) -> None:
    script = "trap 'echo got; exit 9' USR1; while true; do sleep 0.1; done"
    for name in ("docker", "doca"):
        container = f"sig-{name}"
        process = subprocess.Popen(
            [*cli.tool(name), "run", "--rm", "--name", container, "busybox", "sh", "-c", script],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli.env(),
        )  # fmt: skip
        try:
            wait_running(cli, container)
            time.sleep(0.5)  # the CLI passes signals on once it is attached
            process.send_signal(signal.SIGUSR1)
            stdout, _ = process.communicate(timeout=30)
        finally:
            process.kill()
            process.wait()
        assert (process.returncode, stdout) == (9, "got\n"), name


@e2e
@pytest.mark.skipif(not registry_available(), reason="docker-registry is not installed")
def test_run_pulls_a_missing_image_as_docker_does(cli: Clis, tmp_path: Path) -> None:
    with docker_registry(tmp_path) as address:
        image = f"{address}/pulled/busybox:1"
        cli.docker("tag", "busybox", image)
        assert cli.docker("push", image).returncode == 0
        outputs = {}
        for name in ("docker", "doca"):
            cli.docker("rmi", image)
            outputs[name] = cli.run(name, "run", "--rm", image, "echo", "ran", timeout=120)
        assert outputs["doca"].returncode == outputs["docker"].returncode == 0
        assert outputs["doca"].stdout == outputs["docker"].stdout == "ran\n"
        assert outputs["doca"].stderr == outputs["docker"].stderr
        assert outputs["doca"].stderr.startswith(f"Unable to find image '{image}' locally\n")
        expected, got = cli.both("run", "--rm", "--pull", "always", "-q", image, "echo", "q")
        same(expected, got)
        cli.docker("rmi", image)
        for args in (("--pull", "never", image), (f"{address}/pulled/busybox:2",)):
            expected, got = cli.both("run", "--rm", *args)
            assert got.returncode == expected.returncode == 125
            assert got.stderr == run_error(expected.stderr)
        expected, got = cli.both("create", "--pull", "never", image)
        same(expected, got)


# -- sessions on a terminal -------------------------------------------------------------------


@e2e
def test_interactive_tty_sessions_match_docker(cli: Clis) -> None:
    typed = b"echo in-$((6*7)); stty size; exit 3\r"
    results = pty_both(cli, ["run", "-it", "--rm", "busybox", "sh"], [(PROMPT, typed)])
    for name, (code, output) in results.items():
        assert code == 3, (name, output)
        assert b"in-42\r\n33 101\r\n" in output, name
    # The new size reaches the container's terminal.
    steps: list[Step] = [
        (PROMPT, b"stty size\r"), (b"33 101", (40, 120)), (0.8, b"stty size; exit\r"),
    ]  # fmt: skip
    for name, (code, output) in pty_both(
        cli, ["run", "-it", "--rm", "busybox", "sh"], steps
    ).items():
        assert code == 0, name
        assert output.index(b"33 101") < output.index(b"40 120"), (name, output)
    # A TTY without stdin: no raw mode, the exit code still passed on.
    results = pty_both(cli, ["run", "-t", "--rm", "busybox", "sh", "-c", "tty; exit 2"], [])
    assert results["doca"] == results["docker"]
    assert results["doca"][0] == 2 and b"/dev/pts/" in results["doca"][1]


@e2e
def test_detach_keys_and_attach_match_docker(cli: Clis) -> None:
    results = {}
    for name in ("docker", "doca"):
        container = f"detached-{name}"
        steps: list[Step] = [
            (PROMPT, b"echo typed\r"), (b"typed\r\n", b"\x10"), (0.2, b"\x11"),
        ]  # fmt: skip
        code, output = in_pty(
            [*cli.tool(name), "run", "-it", "--name", container, "busybox", "sh"], steps, cli.env()
        )
        assert code == 0 and b"typed" in output, (name, output)
        assert state(cli, container)["Running"] is True
        # Custom keys for attach; the docker CLI ends such an attach with an error.
        attached = in_pty(
            [*cli.tool(name), "attach", "--detach-keys", "ctrl-a,x", container],
            [(PROMPT, b"\x01x")], cli.env(),
        )  # fmt: skip
        results[name] = attached
        assert state(cli, container)["Running"] is True
        remove(cli, container)
    assert results["doca"][0] == results["docker"][0] == 1
    assert results["doca"][1].endswith(b"read escape sequence\r\n")
    assert results["docker"][1].endswith(b"read escape sequence\r\n")
    # Attached to the end: the container's exit code.
    results = pty_both(
        cli, ["attach", "attach-end"], [(PROMPT, b"echo again\r"), (b"again\r\n", b"exit 7\r")],
        before=[("rm", "-f", "attach-end"),
                ("run", "-itd", "--name", "attach-end", "busybox", "sh")],
    )  # fmt: skip
    for name, (code, output) in results.items():
        assert code == 7 and b"again\r\n" in output, (name, output)
    remove(cli, "attach-end")
    expected, got = cli.both("attach", "no-such-box")
    same(expected, got)
    # Without stdin: the output until the container ends, and its exit code.
    ticking = "for i in 1 2 3 4 5 6 7 8; do sleep 0.5; echo tick; done; exit 3"
    for name in ("docker", "doca"):
        cli.docker("run", "-d", "--name", f"ticking-{name}", "busybox", "sh", "-c", ticking)
        attached = cli.run(name, "attach", "--no-stdin", f"ticking-{name}", input="ignored\n")
        assert attached.returncode == 3 and "tick\n" in attached.stdout, (name, attached)
        remove(cli, f"ticking-{name}")
    cli.docker("create", "--name", "never-started", "busybox")
    expected, got = cli.both("attach", "never-started")
    same(expected, got)
    remove(cli, "never-started")


@e2e
def test_start_attached(cli: Clis) -> None:
    for name in ("docker", "doca"):
        cli.docker("create", "-i", "--name", f"later-{name}", "busybox", "sh", "-c",
                   "cat; echo done; exit 5")  # fmt: skip
    expected = cli.docker("start", "-ai", "later-docker", input="in\n")
    got = cli.doca("start", "-ai", "later-doca", input="in\n")
    assert (
        (got.returncode, got.stdout) == (expected.returncode, expected.stdout) == (5, "in\ndone\n")
    )
    expected = cli.docker("start", "later-docker", "no-such-box")
    got = cli.doca("start", "later-doca", "no-such-box")
    assert (got.returncode, got.stdout, got.stderr) == (
        expected.returncode, "later-doca\n", as_doca(expected.stderr),
    )  # fmt: skip
    remove(cli, "later-docker", "later-doca")


# -- exec -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def box(cli: Clis) -> Iterator[str]:
    """A running container to exec in, copy to and from, and measure."""
    cli.docker("run", "-d", "--name", "box", "--memory", "64m", "busybox", "sh", "-c", LOOP)
    wait_running(cli, "box")
    try:
        yield "box"
    finally:
        remove(cli, "box")


@e2e
def test_exec_matches_docker(cli: Clis, box: str) -> None:
    cases = [
        (("exec", box, "sh", "-c", "echo o; echo e >&2; exit 3"), None),
        (("exec", "-i", box, "cat"), "piped\n"),
        (("exec", "-e", "A=1", "-w", "/tmp", "-u", "1000", "--privileged", box, "sh", "-c",
          'echo "$A $(pwd) $(id -u)"'), None),
        (("exec", box, "no-such-command"), None),
        (("exec", "no-such-box", "true"), None),
        (("exec", "-it", box, "true"), ""),
        (("exec", "--bogus", box, "true"), None),
    ]  # fmt: skip
    for args, stdin in cases:
        expected, got = cli.both(*args, input=stdin)
        same(expected, got)
    for name in ("docker", "doca"):
        detached = cli.docker if name == "docker" else cli.doca
        result = detached("exec", "-d", box, "sh", "-c", f"echo {name} > /tmp/exec-{name}")
        assert (result.returncode, result.stdout) == (0, "")
    time.sleep(0.5)
    assert cli.docker("exec", box, "cat", "/tmp/exec-doca").stdout == "doca\n"


@e2e
def test_exec_on_a_terminal_matches_docker(cli: Clis, box: str) -> None:
    steps: list[Step] = [(PROMPT, b"echo execd; tty; stty size; exit 4\r")]
    for name, (code, output) in pty_both(cli, ["exec", "-it", box, "sh"], steps).items():
        assert code == 4, (name, output)
        assert re.search(rb"execd\r\n/dev/pts/\d+\r\n33 101\r\n", output), (name, output)
    keys: list[Step] = [(PROMPT, b"\x01x")]
    results = pty_both(cli, ["exec", "-it", "--detach-keys", "ctrl-a,x", box, "sh"], keys)
    assert results["doca"][0] == results["docker"][0] == 1
    assert results["doca"][1].endswith(b"read escape sequence\r\n")


# -- the lifecycle ----------------------------------------------------------------------------


@e2e
def test_lifecycle_commands_match_docker(cli: Clis) -> None:
    for name in ("docker", "doca"):
        cli.docker("run", "-d", "--name", f"life-{name}", "busybox", "sh", "-c", LOOP)
    try:
        for command in (
            ("restart", "-t", "1"), ("kill", "-s", "USR1"), ("pause",), ("pause",), ("unpause",),
            ("update", "--memory", "96m", "--cpus", "1.5", "--restart", "unless-stopped"),
            ("update",),
            ("update", "-m", "x"), ("stop", "-t", "1"), ("wait",),
        ):  # fmt: skip
            expected = cli.docker(*command, "life-docker", "no-such-box")
            got = cli.doca(*command, "life-doca", "no-such-box")
            assert got.returncode == expected.returncode, command
            ours = as_doca(expected.stdout + expected.stderr).replace("life-docker", "life-doca")
            assert got.stdout + got.stderr == ours, command
        settings = ("{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} "
                    "{{.HostConfig.RestartPolicy.Name}} {{.State.Status}}")  # fmt: skip
        inspected = cli.docker("inspect", "-f", settings, "life-docker", "life-doca").stdout
        assert inspected.splitlines() == ["100663296 1500000000 unless-stopped exited"] * 2
        for args in (("no-such-box", "x"), ("life-docker", " "), ("life-docker", "life-doca")):
            expected, got = cli.both("rename", *args)
            same(expected, got)
        assert cli.doca("rename", "life-doca", "life-renamed").returncode == 0
        assert state(cli, "life-renamed")["Status"] == "exited"
        cli.doca("rename", "life-renamed", "life-doca")
    finally:
        remove(cli, "life-docker", "life-doca")


@e2e
def test_container_prune_and_the_container_group(cli: Clis) -> None:
    cli.docker("container", "prune", "-f")  # what other tests left
    ids = {}
    for name in ("docker", "doca"):
        cli.docker("create", "--name", f"prunable-{name}", "busybox")
        answered = cli.run(name, "container", "prune", input="n\n")
        assert answered.returncode == 0
        assert answered.stdout.startswith("WARNING! This will remove all stopped containers.\n")
        assert answered.stdout.endswith("Are you sure you want to continue? [y/N] ")
        ids[name] = cli.docker("inspect", "-f", "{{.Id}}", f"prunable-{name}").stdout.strip()
        pruned = cli.run(name, "container", "prune", "-f")
        assert pruned.stdout == f"Deleted Containers:\n{ids[name]}\n\nTotal reclaimed space: 0B\n"
    expected, got = cli.both("container", "prune", "--filter", "bogus")
    same(expected, got)
    for args in (("container", "ls", "-aq"), ("container", "list", "-q"), ("ps", "-aq")):
        assert cli.doca(*args).stdout == cli.docker(*args).stdout
    expected, got = cli.both("container", "run", "--rm", "busybox", "echo", "grouped")
    same(expected, got)
    cli.docker("create", "--name", "grouped", "busybox")
    assert json.loads(cli.doca("container", "inspect", "grouped").stdout) == json.loads(
        cli.docker("container", "inspect", "grouped").stdout
    )
    assert cli.doca("container", "rm", "grouped").stdout == "grouped\n"
    expected, got = cli.both("container", "inspect", "grouped")
    assert (got.returncode, json.loads(got.stdout)) == (expected.returncode, [])


# -- cp ---------------------------------------------------------------------------------------


def _tree(root: Path) -> list[tuple[str, str, str, str]]:
    """Every path below ``root`` with its type, mode, size and content or link target."""
    found = []
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        detail = (os.readlink(path) if path.is_symlink() else
                  path.read_bytes().hex() if path.is_file() else "")  # fmt: skip
        found.append((str(path.relative_to(root)), oct(info.st_mode), str(info.st_size), detail))
    return found


def _container_tree(cli: Clis, box: str, path: str) -> str:
    listing = f"cd {path} 2>/dev/null && find . | sort | xargs stat -c '%n %a %u:%g %s %N'"
    return cli.docker("exec", box, "sh", "-c", listing).stdout


def _outcome(result: Result, name: str) -> tuple[int, str, str]:
    """A cp's exit code and output, the directory it copied to (named after its CLI) aside.
    The docker CLI also logs go-archive's errors as it gives up on a directory: left out."""
    errors = [line for line in result.stderr.splitlines(keepends=True) if "level=" not in line]
    return result.returncode, result.stdout, "".join(errors).replace(f"/tmp/{name}", "/tmp/X")


@e2e
def test_cp_into_the_container_matches_docker(cli: Clis, box: str, tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a").write_text("a\n")
    (source / "sub" / "b").write_text("b\n")
    (source / "link").symlink_to("a")
    (tmp_path / "srclink").symlink_to("src")
    os.chown(source / "a", 1234, 5678)
    cases = [
        (str(source), "{dir}/c1"), (f"{source}/.", "{dir}/c2"), (f"{source}/a", "{dir}/c3"),
        (f"{source}/a", "{dir}/c2/"), (str(tmp_path / "srclink"), "{dir}/c4"),
        ("-L", str(tmp_path / "srclink"), "{dir}/c5"), ("-a", f"{source}/a", "{dir}/c6"),
        (f"{source}/", "{dir}/c7"), (str(source), "{dir}/nodir/x"),
        (str(tmp_path / "missing"), "{dir}/"), (f"{source}/a", "{dir}/newdir/"),
        (str(source), "{dir}/c3"), (str(source), "/dev/null"),
    ]  # fmt: skip
    outcomes = {}
    for name in ("docker", "doca"):
        cli.docker("exec", box, "mkdir", f"/tmp/{name}")
        run = cli.docker if name == "docker" else cli.doca
        outcomes[name] = [
            _outcome(run("cp", *options, src, f"{box}:{dst.format(dir=f'/tmp/{name}')}"), name)
            for *options, src, dst in cases
        ]
    assert outcomes["doca"] == outcomes["docker"]
    assert _container_tree(cli, box, "/tmp/doca") == _container_tree(cli, box, "/tmp/docker")
    assert re.search(r"\./c6 644 1234:5678 ", _container_tree(cli, box, "/tmp/doca"))
    archive_in = io.BytesIO()
    with tarfile.open(fileobj=archive_in, mode="w") as tar:
        tar.add(source, "from-stdin")
    for name in ("docker", "doca"):
        streamed = cli.run_bytes(name, "cp", "-", f"{box}:/tmp/{name}", input=archive_in.getvalue())
        assert (streamed.returncode, streamed.stderr) == (0, b"")
        refused = cli.run(name, "cp", "-", f"{box}:/tmp/{name}/c3", input="")
        assert refused.returncode == 1
        assert refused.stderr == f'destination "{box}:/tmp/{name}/c3" must be a directory\n'
    assert _container_tree(cli, box, "/tmp/doca/from-stdin") == _container_tree(
        cli, box, "/tmp/docker/from-stdin"
    )


@e2e
def test_cp_out_of_the_container_matches_docker(cli: Clis, box: str, tmp_path: Path) -> None:
    layout = ("mkdir -p /data/sub && echo x > /data/sub/f && ln -s sub/f /data/link && "
              "ln -s /data /datalink && chmod 4750 /data/sub/f")  # fmt: skip
    cli.docker("exec", box, "sh", "-c", layout)
    cases = [
        ("/etc", "etc1"), ("/etc/.", "etc2"), ("/etc/passwd", ""), ("/etc/passwd", "pw"),
        ("/data", "data"), ("/datalink", "dl"), ("-L", "/datalink", "dl2"), ("/data/", "d3"),
        ("/nosuch", ""), ("/etc/passwd", "nodir/x"), ("/etc", "pw"), ("/etc/passwd", "new/"),
    ]  # fmt: skip
    outputs = {}
    for name in ("docker", "doca"):
        out = tmp_path / name
        out.mkdir()
        run = cli.docker if name == "docker" else cli.doca
        outputs[name] = [
            (result.returncode, result.stdout, result.stderr.replace(str(out), "OUT"))
            for *options, src, dst in cases
            for result in [run("cp", *options, f"{box}:{src}", f"{out}/{dst}")]
        ]
    assert outputs["doca"] == outputs["docker"]
    assert _tree(tmp_path / "doca") == _tree(tmp_path / "docker")
    expected, got = (cli.run_bytes(name, "cp", f"{box}:/data", "-") for name in ("docker", "doca"))
    assert got.stdout == expected.stdout and got.returncode == 0
    for args in (("no-such-box:/x", "."), ("a", "b"), ("box:/a", "box:/b")):
        expected_text, got_text = cli.both("cp", *args)
        same(expected_text, got_text)


@e2e
def test_cp_reports_on_a_terminal(cli: Clis, box: str, tmp_path: Path) -> None:
    outputs = {}
    for name in ("docker", "doca"):
        target = tmp_path / "pw"
        outputs[name] = [
            in_pty([*cli.tool(name), "cp", f"{box}:/etc/passwd", str(target)], [], cli.env()),
            in_pty([*cli.tool(name), "cp", str(target), f"{box}:/tmp/pw"], [], cli.env()),
        ]
        target.unlink()
    assert outputs["doca"] == outputs["docker"]
    assert outputs["doca"][0][1].startswith(b"Successfully copied 2.05kB to ")


# -- measures and the filesystem --------------------------------------------------------------


@e2e
def test_stats_and_top_match_docker(cli: Clis, box: str) -> None:
    cli.docker("create", "--name", "not-running", "busybox")
    try:
        for args in (("stats", "--no-stream", "not-running"), ("stats", "--no-stream", "nosuch"),
                     ("top", "nosuch"), ("top", "not-running")):  # fmt: skip
            expected, got = cli.both(*args)
            same(expected, got)
    finally:
        remove(cli, "not-running")
    expected, got = cli.both("stats", "--no-stream", box)
    assert got.returncode == expected.returncode == 0
    header, row = got.stdout.splitlines()
    assert header.split() == expected.stdout.splitlines()[0].split()
    assert row.split()[:2] == expected.stdout.splitlines()[1].split()[:2]
    assert " / 64MiB " in row and row.split()[-1].isdigit()
    everything = cli.doca("stats", "--no-stream", "-a").stdout.splitlines()
    assert everything[0].split() == header.split()
    assert any(line.split()[1] == box for line in everything[1:])
    for top in (("top", box), ("top", box, "-o", "pid,comm")):
        expected, got = cli.both(*top)
        assert got.returncode == 0
        assert got.stdout.splitlines()[0] == expected.stdout.splitlines()[0]
        # the container's own process is listed by both (a passing exec may come and go)
        assert len(got.stdout.splitlines()) >= 2 and len(expected.stdout.splitlines()) >= 2


@e2e
def test_streamed_stats_redraw_the_table(cli: Clis, box: str) -> None:
    process = subprocess.Popen([str(DOCA), "-H", cli.engine.host, "stats", box],
                               stdout=subprocess.PIPE, env=cli.env())  # fmt: skip
    assert process.stdout is not None
    output = b""
    try:
        # until three redraws came (a slow machine may take a while to start the CLI)
        deadline = time.monotonic() + 30
        os.set_blocking(process.stdout.fileno(), False)
        while output.count(b"\x1b[J") < 3 and time.monotonic() < deadline:
            output += process.stdout.read() or b""
            time.sleep(0.1)
    finally:
        process.kill()
        process.wait()
    frames = output.split(b"\x1b[J")
    assert len(frames) >= 3 and frames[0].startswith(b"\x1b[HCONTAINER ID ")
    assert b" \x1b[K\n" in frames[0] and box.encode() in frames[1]


@e2e
def test_diff_commit_and_export_match_docker(cli: Clis, tmp_path: Path) -> None:
    cli.docker("run", "--name", "changed", "busybox", "sh", "-c",
               "echo x > /new; rm /etc/group; mkdir -p /tmp/d")  # fmt: skip
    try:
        for args in (("diff", "changed"), ("diff", "nosuch"), ("commit", "changed", "Bad:Ref"),
                     ("export", "nosuch")):  # fmt: skip
            expected, got = cli.both(*args)
            same(expected, got)
        committed = cli.doca(
            "commit", "-m", "msg", "-a", "me", "-c", "ENV A=1", "changed", "committed:v1"
        )
        assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", committed.stdout), committed.stderr
        shown = cli.docker("inspect", "-f", "{{.Id}} {{.Comment}} {{.Author}} {{.Config.Env}}",
                           "committed:v1").stdout.split(" ", 1)  # fmt: skip
        assert shown[0] == committed.stdout.strip()
        assert shown[1].startswith("msg me [") and "A=1]" in shown[1]
        cli.docker("rmi", "committed:v1")
        names = [sorted(_names(cli.run_bytes(name, "export", "changed").stdout))
                 for name in ("docker", "doca")]  # fmt: skip
        assert names[1] == names[0] and "new" in names[1]
        assert cli.doca("export", "-o", str(tmp_path / "out.tar"), "changed").returncode == 0
        assert stat.S_IMODE((tmp_path / "out.tar").stat().st_mode) == 0o600
        assert sorted(_names((tmp_path / "out.tar").read_bytes())) == names[0]
        refusals = pty_both(cli, ["export", "changed"], [])
        assert refusals["doca"] == refusals["docker"]
        assert refusals["doca"][0] == 1 and b"cowardly refusing" in refusals["doca"][1]
    finally:
        remove(cli, "changed")
