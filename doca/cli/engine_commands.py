"""`doca engine start|stop|status|logs`: run doca-engine in the background with a pidfile and
a log file in a state directory, and look after it.

`stop` signals only the PID its pidfile names, and only when that process is doca-engine."""

from __future__ import annotations

import asyncio
import itertools
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
from rich.console import Console

from doca.cli.engine_certs import certs
from doca.cli.runner import GENERAL_ERROR, Session, unreachable_message
from doca.client import EngineClient, EngineError

if TYPE_CHECKING:
    from engine_vm.options import VMOptions

DEFAULT_STATE_DIR = Path("/var/lib/doca-engine")
PIDFILE = "engine.pid"
LOGFILE = "engine.log"
_POLL = 0.1


def _die(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(GENERAL_ERROR)


def _state_option(function: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--state-dir", type=click.Path(path_type=Path), default=DEFAULT_STATE_DIR,
        show_default=True, help="Where the engine's pidfile and log file are kept.",
    )(function)  # fmt: skip


def engine_command() -> list[str]:
    """How to run doca-engine: the script installed beside this Python, else the module."""
    script = Path(sys.executable).with_name("doca-engine")
    return [str(script)] if script.exists() else [sys.executable, "-m", "engine"]


def elevated(argv: Sequence[str]) -> str:
    """The command line to run ``argv`` as root: sudo, else pkexec."""
    runner = "sudo" if shutil.which("sudo") or not shutil.which("pkexec") else "pkexec"
    return shlex.join([runner, *argv])


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip() or "0") or None
    except (FileNotFoundError, ValueError):
        return None


def is_engine(pid: int) -> bool:
    """Whether ``pid`` is a running doca-engine (not a process that took over a stale PID)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    words = [Path(arg.decode(errors="replace")).name for arg in argv if arg]
    return "doca-engine" in words or any(
        word == "-m" and following == "engine" for word, following in itertools.pairwise(words)
    )


def running_pid(state_dir: Path) -> int | None:
    pid = read_pid(state_dir / PIDFILE)
    return pid if pid is not None and is_engine(pid) else None


async def _answers(host: str) -> bool:
    async with EngineClient(host) as client:
        return await client.ping()


def answers(host: str) -> bool:
    try:
        return asyncio.run(_answers(host))
    except ValueError:
        return False


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "".join(text.splitlines(keepends=True)[-lines:])


def _vm_option(function: click.decorators.FC) -> click.decorators.FC:
    return click.option("--vm", is_flag=True,
                        help="The engine inside a Linux VM (QEMU) instead of on this host.",
                        )(function)  # fmt: skip


def _vm_state_dir(ctx: click.Context, state_dir: Path) -> Path | None:
    """The --state-dir given, or None for the VM's own default (per served socket)."""
    given = ctx.get_parameter_source("state_dir") != click.core.ParameterSource.DEFAULT
    return state_dir if given else None


def _vm_socket(host: str) -> Path:
    if not host.startswith("unix://"):
        _die(f"--vm serves the engine on a unix socket; give -H unix://PATH (not {host})")
    return Path(host.removeprefix("unix://")).absolute()


# engine_vm is imported only when --vm is given: it costs every other command start-up time.


def _vm_options(cpus: int, memory: str, disk: str, shares: tuple[str, ...]) -> VMOptions:
    from engine_vm.options import VMOptions, default_shares, parse_size

    try:
        return VMOptions(cpus=cpus, memory=parse_size(memory), disk=parse_size(disk),
                         shares=tuple(shares) or default_shares())  # fmt: skip
    except ValueError as exc:
        _die(str(exc))


def _vm_start(host: str, options: VMOptions, state_dir: Path | None, timeout: float | None) -> None:
    from engine_vm import control as vm_control
    from engine_vm.image import ImageBuildError
    from engine_vm.options import format_size

    path = _vm_socket(host)
    try:
        started = vm_control.start(
            path, options, state_dir, timeout or vm_control.START_TIMEOUT,
            log=lambda line: click.echo(line, err=True),
        )  # fmt: skip
    except (vm_control.VMError, ImageBuildError) as exc:
        _die(str(exc))
    click.echo(
        f"Engine started at unix://{path} in a VM ({options.cpus} CPUs, "
        f"{format_size(options.memory)} memory, {format_size(options.disk)} disk, "
        f"{started.accelerator}) in {started.seconds:.2f} s (pid {started.pid}); "
        f"files: {started.state_dir}"
    )


def _vm_stop(host: str, state_dir: Path | None, wait: float | None) -> None:
    from engine_vm import control as vm_control

    path = _vm_socket(host)
    try:
        pid = vm_control.stop(path, state_dir, wait or vm_control.STOP_TIMEOUT)
    except vm_control.VMError as exc:
        _die(str(exc))
    click.echo(f"VM stopped (pid {pid})")


def _vm_status(host: str, state_dir: Path | None) -> None:
    from engine_vm import control as vm_control
    from engine_vm.options import format_size

    path = _vm_socket(host)
    found = vm_control.status(path, state_dir)
    if not found.running:
        click.echo(f"No VM serves unix://{path} (files: {found.state_dir})", err=True)
        sys.exit(GENERAL_ERROR)
    answer = "answers" if found.answers else "does not answer"
    click.echo(f"VM running for unix://{path}: pid {found.pid}; its engine {answer}")
    details = [("QEMU", f"pid {found.qemu_pid}, socket over {found.transport}")]
    if found.settings is not None:
        options = found.settings.vm_options()
        details += [
            ("Resources", f"{options.cpus} CPUs, {format_size(options.memory)} memory, "
                          f"{format_size(options.disk)} disk ({found.settings.accelerator})"),
            ("Shared", ", ".join(options.shares) or "nothing"),
            ("Image", found.settings.image),
        ]  # fmt: skip
    details.append(("Files", str(found.state_dir)))
    for key, value in details:
        click.echo(f"  {key + ':':<12}{value}")
    if not found.answers:
        sys.exit(GENERAL_ERROR)


@click.group()
def engine() -> None:
    """Run and look after the Doca engine."""


@engine.command(context_settings={"ignore_unknown_options": True})
@_state_option
@click.option("-H", "--host", "listen", default=None, metavar="HOST",
              help="Address the engine listens on (default: doca's engine address).")  # fmt: skip
@click.option("--data-root", type=click.Path(path_type=Path), default=None,
              help="The engine's persistent state (default /var/lib/doca).")  # fmt: skip
@click.option("--exec-root", type=click.Path(path_type=Path), default=None,
              help="The engine's runtime state (default /run/doca).")  # fmt: skip
@click.option("--timeout", type=float, default=None,
              help="Seconds to wait for the engine to answer (30; 120 with --vm).")  # fmt: skip
@_vm_option
@click.option("--cpus", type=click.IntRange(min=1), default=2, show_default=True,
              help="With --vm: the VM's CPUs.")  # fmt: skip
@click.option("--memory", default="2g", show_default=True, metavar="SIZE",
              help="With --vm: the VM's memory (e.g. 512m, 2g).")  # fmt: skip
@click.option("--disk", default="20g", show_default=True, metavar="SIZE",
              help="With --vm: the size of the VM's data disk (grown, never shrunk).")  # fmt: skip
@click.option("--share", "shares", multiple=True, metavar="DIR",
              help="With --vm: a host folder the VM sees at the same path (repeatable; "
                   "default: your home folder).")  # fmt: skip
@click.argument("engine_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- ENGINE FLAGS]")
@click.pass_context
def start(
    ctx: click.Context, state_dir: Path, listen: str | None, data_root: Path | None,
    exec_root: Path | None, timeout: float | None, vm: bool, cpus: int, memory: str, disk: str,
    shares: tuple[str, ...], engine_args: tuple[str, ...],
) -> None:  # fmt: skip
    """Start doca-engine in the background and wait until it answers; with --vm, inside a
    small Linux VM whose engine socket is served at the -H path."""
    session: Session = ctx.obj
    host = listen or session.host
    if vm:
        options = _vm_options(cpus, memory, disk, shares)
        _vm_start(host, options, _vm_state_dir(ctx, state_dir), timeout)
        return
    timeout = 30.0 if timeout is None else timeout
    if os.geteuid() != 0:
        again = ["doca", "engine", "start", "-H", host, "--state-dir", str(state_dir)]
        again += ["--data-root", str(data_root)] if data_root else []
        again += ["--exec-root", str(exec_root)] if exec_root else []
        again += ["--", *engine_args] if engine_args else []
        _die(f"doca-engine needs root. Start it with:\n  {elevated(again)}")
    pid = running_pid(state_dir)
    if pid is not None:
        _die(f"doca-engine is already running (pid {pid}, from {state_dir / PIDFILE})")
    if answers(host):
        _die(f"An engine already answers at {host}")
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
    log_path = state_dir / LOGFILE
    argv = [*engine_command(), "-H", host, "--pidfile", str(state_dir / PIDFILE)]
    if data_root is not None:
        argv += ["--data-root", str(data_root)]
    if exec_root is not None:
        argv += ["--exec-root", str(exec_root)]
    argv += list(engine_args)
    with log_path.open("ab") as log:
        os.chmod(log_path, 0o644)
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    while not answers(host):
        code = process.poll()
        if code is not None:
            _die(f"doca-engine exited at start (code {code}). Its log ends:\n"
                 f"{_tail(log_path, 20).rstrip()}")  # fmt: skip
        if time.monotonic() > deadline:
            _die(f"doca-engine (pid {process.pid}) did not answer at {host} within "
                 f"{timeout:g} seconds; see {log_path}")  # fmt: skip
        time.sleep(_POLL)
    click.echo(f"Engine started at {host} (pid {process.pid}); log: {log_path}")


@engine.command()
@_state_option
@click.option("-t", "--time", "wait", type=float, default=None,
              help="Seconds to wait for the engine to stop (60; 90 with --vm).")  # fmt: skip
@_vm_option
@click.option("-H", "--host", "listen", default=None, metavar="HOST",
              help="With --vm: the socket the VM serves (default: doca's address).")  # fmt: skip
@click.pass_context
def stop(
    ctx: click.Context, state_dir: Path, wait: float | None, vm: bool, listen: str | None
) -> None:
    """Stop the engine `doca engine start` started (SIGTERM to its pidfile's PID); with --vm,
    shut its VM down cleanly."""
    if vm:
        _vm_stop(listen or ctx.obj.host, _vm_state_dir(ctx, state_dir), wait)
        return
    wait = 60.0 if wait is None else wait
    pidfile = state_dir / PIDFILE
    pid = read_pid(pidfile)
    if pid is None:
        _die(f"No engine started by `doca engine start`: no pidfile at {pidfile}")
    if not Path(f"/proc/{pid}").exists():
        click.echo(f"The engine is not running (pid {pid} from {pidfile} is gone)", err=True)
        return
    if not is_engine(pid):
        _die(f"pid {pid} from {pidfile} is not doca-engine; not stopping it")
    try:
        os.kill(pid, signal.SIGTERM)
    except PermissionError:
        _die(f"Stopping doca-engine needs root. Stop it with:\n  "
             f"{elevated(['doca', 'engine', 'stop', '--state-dir', str(state_dir)])}")  # fmt: skip
    deadline = time.monotonic() + wait
    while Path(f"/proc/{pid}").exists() and is_engine(pid):
        if time.monotonic() > deadline:
            _die(f"doca-engine (pid {pid}) did not stop within {wait:g} seconds")
        time.sleep(_POLL)
    click.echo(f"Engine stopped (pid {pid})")


async def _status(client: EngineClient) -> tuple[dict[str, object], dict[str, object]] | None:
    if not await client.ping():
        return None
    try:
        return await client.version(), await client.info()
    except EngineError:
        return await client.version(), {}


@engine.command()
@_state_option
@_vm_option
@click.option("-H", "--host", "listen", default=None, metavar="HOST",
              help="With --vm: the socket the VM serves (default: doca's address).")  # fmt: skip
@click.pass_context
def status(ctx: click.Context, state_dir: Path, vm: bool, listen: str | None) -> None:
    """Whether the engine answers, its version, PID and files; exit 1 when it does not. With
    --vm: the VM that serves the engine's socket."""
    session: Session = ctx.obj
    if vm:
        _vm_status(listen or session.host, _vm_state_dir(ctx, state_dir))
        return
    console = Console(highlight=False, soft_wrap=True)
    answer = session.run(_status)
    pid = running_pid(state_dir)
    if answer is None:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[red]●[/red] {unreachable_message(session.host)}", markup=True
        )
        if pid is not None:
            click.echo(f"  doca-engine (pid {pid}) is running but does not answer", err=True)
        sys.exit(GENERAL_ERROR)
    version, info = answer
    console.print(
        f"[green]●[/green] Engine running at {session.host}: "
        f"version {version.get('Version', '?')} (API {version.get('ApiVersion', '?')})"
    )
    details = []
    if pid is not None:
        details.append(("PID", f"{pid} ({state_dir / PIDFILE})"))
        details.append(("Log", str(state_dir / LOGFILE)))
    if info:
        details += [
            ("Data root", str(info.get("DockerRootDir", ""))),
            ("Containers", f"{info.get('Containers', 0)} ({info.get('ContainersRunning', 0)} "
                           f"running)"),
            ("Images", str(info.get("Images", 0))),
        ]  # fmt: skip
    for key, value in details:
        click.echo(f"  {key + ':':<12}{value}")


@engine.command()
@_state_option
@click.option("-f", "--follow", is_flag=True, help="Keep printing what the engine logs.")
@click.option("-n", "--tail", "lines", type=int, default=None, metavar="N",
              help="Print only the last N lines.")  # fmt: skip
def logs(state_dir: Path, follow: bool, lines: int | None) -> None:
    """Print the log of the engine `doca engine start` started."""
    path = state_dir / LOGFILE
    try:
        source = path.open("rb")
    except FileNotFoundError:
        _die(f"No engine log at {path}")
    out = sys.stdout.buffer
    with source:
        if lines is None:
            shutil.copyfileobj(source, out)
        else:
            data = source.read()
            kept = data.splitlines(keepends=True)[-lines:] if lines > 0 else []
            out.write(b"".join(kept))
        out.flush()
        if not follow:
            return
        try:
            while True:
                chunk = source.read()
                if chunk:
                    out.write(chunk)
                    out.flush()
                elif source.tell() > path.stat().st_size:  # truncated: start over
                    source.seek(0)
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            return


engine.add_command(certs)

COMMANDS = (engine,)
