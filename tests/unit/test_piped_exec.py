"""engine.runtime.piped_exec and exec_pipes: an exec run as the engine's child with pipes for
its stdio, against a stand-in runtime that speaks crun's side of the protocol (spec, pid file
and log as ``/proc/self/fd`` paths; its error on stderr and in the log)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from engine.runtime.attach import STDERR, STDOUT, AttachFrame
from engine.runtime.exec_pipes import ExecPipes
from engine.runtime.oci import OciRuntime, RuntimeFailure
from engine.runtime.piped_exec import can_pipe_exec, piped_exec_argv, start_piped_exec

# crun exec, as far as the engine sees it: the process's spec from --process, its pid into
# --pid-file once it runs, a JSON log line plus a line on stderr when it cannot run, and the
# process's exit status as its own (128+N for signal N).
FAKE_CRUN = """\
import json, os, signal, subprocess, sys
args = sys.argv[1:]
log = next(a.split("=", 1)[1] for a in args if a.startswith("--log="))
pid_file = next(a.split("=", 1)[1] for a in args if a.startswith("--pid-file="))
with open(args[args.index("--process") + 1]) as f:
    process = json.load(f)
argv = process["args"]
if argv[0] == "nosuch":
    text = "executable file `nosuch` not found in $PATH: No such file or directory"
    print(text, file=sys.stderr, flush=True)
    with open(log, "a") as f:
        f.write(json.dumps({"msg": text, "level": "error"}) + "\\n")
    sys.exit(255)
child = subprocess.Popen(argv)
with open(pid_file, "w") as f:
    f.write(str(child.pid))
code = child.wait()
sys.exit(128 - code if code < 0 else code)
"""


@pytest.fixture
def runtime(tmp_path: Path) -> OciRuntime:
    path = tmp_path / "crun"
    path.write_text(f"#!{sys.executable}\n{FAKE_CRUN}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return OciRuntime(str(path), tmp_path / "state")


def process(*args: str) -> bytes:
    return json.dumps({"args": list(args), "cwd": "/", "terminal": False}).encode()


async def collect(pipes: ExecPipes | None) -> dict[int, bytes]:
    assert pipes is not None
    out = {STDOUT: b"", STDERR: b""}
    async for frame in pipes:
        out[frame.stream] += frame.data
    return out


def test_argv_passes_spec_pid_file_and_log_as_inherited_descriptors() -> None:
    runtime = OciRuntime("/usr/bin/crun", Path("/run/doca/runtime"))
    assert piped_exec_argv(runtime, "c1", process_fd=5, pid_fd=6, log_fd=7) == [
        "/usr/bin/crun", "--root", "/run/doca/runtime", "--log-format=json",
        "--log=/proc/self/fd/7", "exec", "--pid-file=/proc/self/fd/6",
        "--process", "/proc/self/fd/5", "c1",
    ]  # fmt: skip


def test_only_crun_writes_a_pid_file_a_pipe_can_hold() -> None:
    assert can_pipe_exec(OciRuntime("/usr/bin/crun", Path("/r")))
    assert not can_pipe_exec(OciRuntime("/usr/sbin/runc", Path("/r")))


async def test_output_streams_and_exit_code(runtime: OciRuntime) -> None:
    script = "echo out; echo err >&2; exit 3"
    session = await start_piped_exec(
        runtime, "c1", process("sh", "-c", script), stdin=False, attach=True
    )
    assert session.pid > 0
    assert await collect(session.stdio) == {STDOUT: b"out\n", STDERR: b"err\n"}
    assert await session.wait() == 3
    session.close()


async def test_a_process_that_cannot_start_raises_the_runtimes_words(
    runtime: OciRuntime,
) -> None:
    with pytest.raises(RuntimeFailure) as caught:
        await start_piped_exec(runtime, "c1", process("nosuch"), stdin=False, attach=True)
    assert caught.value.message == (
        "executable file `nosuch` not found in $PATH: No such file or directory"
    )
    assert caught.value.exit_code == 127


async def test_stdin_reaches_the_process_and_its_close_ends_it(runtime: OciRuntime) -> None:
    session = await start_piped_exec(runtime, "c1", process("cat"), stdin=True, attach=True)
    assert session.stdio is not None
    data = os.urandom(300_000)  # more than a pipe holds: writes wait for room
    reader = asyncio.ensure_future(collect(session.stdio))
    await session.stdio.write(data)
    session.stdio.close_stdin()
    assert (await reader)[STDOUT] == data
    assert await session.wait() == 0
    session.close()


async def test_a_signal_death_is_128_plus_the_signal(runtime: OciRuntime) -> None:
    session = await start_piped_exec(
        runtime, "c1", process("sleep", "30"), stdin=False, attach=True
    )
    session.kill()
    assert await session.wait() == 137
    session.close()


async def test_detached_exec_has_no_pipes(runtime: OciRuntime) -> None:
    session = await start_piped_exec(
        runtime, "c1", process("sh", "-c", "echo lost"), stdin=True, attach=False
    )
    assert session.stdio is None
    assert await session.wait() == 0
    session.close()


async def test_output_ends_with_the_process_though_its_child_holds_the_pipes(
    runtime: OciRuntime,
) -> None:
    script = "sleep 30 & echo $!; echo done"
    session = await start_piped_exec(
        runtime, "c1", process("sh", "-c", script), stdin=False, attach=True
    )
    async with asyncio.timeout(10):
        out = await collect(session.stdio)
    background, done = out[STDOUT].decode().split()
    os.kill(int(background), 9)
    assert done == "done"
    assert await session.wait() == 0
    session.close()


# -- ExecPipes on its own -------------------------------------------------------------------


async def test_reading_pauses_while_the_client_does_not_take_the_output() -> None:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pipes = ExecPipes(None, out_r, err_r)
    os.set_blocking(out_w, False)
    written = 0
    chunk = b"x" * 32768
    for _ in range(200):  # 6.5 MB if nothing held it back
        try:
            written += os.write(out_w, chunk)
        except BlockingIOError:
            await asyncio.sleep(0.01)  # the engine's readers get their turn
            try:
                written += os.write(out_w, chunk)
            except BlockingIOError:
                break
    # Sixteen chunks queued plus what the pipe holds, then the writer has to wait.
    assert written < 2 << 20
    got = 0
    os.close(out_w)
    os.close(err_w)
    async with asyncio.timeout(10):
        while (frame := await pipes.read()) is not None:
            assert isinstance(frame, AttachFrame) and frame.stream == STDOUT
            got += len(frame.data)
    assert got == written
    pipes.close()


async def test_a_write_to_a_closed_stdin_is_dropped() -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pipes = ExecPipes(in_w, out_r, err_r)
    os.close(in_r)
    await pipes.write(b"nobody reads this")  # EPIPE: the process closed its stdin
    await pipes.write(b"nor this")
    for fd in (out_w, err_w):
        os.close(fd)
    assert await pipes.read() is None
    pipes.close()
