"""Pull, push, load and build progress on a terminal: the fold of the engine's messages into
rows (on streams recorded from doca-engine), its rich drawing, and `doca pull`, `push`, `load`
and `build` under a pseudo-terminal next to the docker CLI under one; through a pipe the output
stays the docker CLI's."""

from __future__ import annotations

import asyncio
import fcntl
import io
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyte
import pytest
from rich.console import Console

from doca.cli import progress_display
from doca.cli.progress_display import Board, Line, LiveProgress, Row, fold, fold_all
from doca.cli.registry_commands import show_progress
from doca.client import StreamError
from tests.support.engine import DOCKER, DockerCLI, EngineProcess
from tests.support.registry import docker_registry, registry_available
from tests.support.testimage import TestImage

DOCA = Path(sys.executable).with_name("doca")
DIGEST = "sha256:c74ec3f44fe0055c5fca308452cc3ff90bbbcae5090a39605942abfcaf44d645"
REGISTRY = "127.0.0.1:40837"


def _recorded(lines: str) -> list[dict[str, Any]]:
    """Messages as doca-engine streamed them (the pre-rendered ``progress`` text, which the
    docker CLI does not read on a terminal either, left out)."""
    text = lines.replace("$DIGEST", DIGEST).replace("$REGISTRY", REGISTRY)
    return [json.loads(line) for line in text.splitlines() if line]


# `docker pull` of a three-layer image whose base layer was already there.
PULL = _recorded("""
{"status":"Pulling from rec/multi","id":"1"}
{"status":"Already exists","progressDetail":{},"id":"064676c20e14"}
{"status":"Pulling fs layer","progressDetail":{},"id":"9827544ed1ff"}
{"status":"Pulling fs layer","progressDetail":{},"id":"1a8f17f1dca7"}
{"status":"Downloading","progressDetail":{"current":215,"total":215},"id":"1a8f17f1dca7"}
{"status":"Verifying Checksum","progressDetail":{},"id":"1a8f17f1dca7"}
{"status":"Download complete","progressDetail":{},"id":"1a8f17f1dca7"}
{"status":"Downloading","progressDetail":{"current":1081344,"total":3001340},"id":"9827544ed1ff"}
{"status":"Verifying Checksum","progressDetail":{},"id":"9827544ed1ff"}
{"status":"Download complete","progressDetail":{},"id":"9827544ed1ff"}
{"status":"Extracting","progressDetail":{"current":1048576,"total":3001340},"id":"9827544ed1ff"}
{"status":"Extracting","progressDetail":{"current":3001340,"total":3001340},"id":"9827544ed1ff"}
{"status":"Pull complete","progressDetail":{},"id":"9827544ed1ff"}
{"status":"Extracting","progressDetail":{"current":215,"total":215},"id":"1a8f17f1dca7"}
{"status":"Extracting","progressDetail":{"current":215,"total":215},"id":"1a8f17f1dca7"}
{"status":"Pull complete","progressDetail":{},"id":"1a8f17f1dca7"}
{"status":"Digest: $DIGEST"}
{"status":"Status: Downloaded newer image for $REGISTRY/rec/multi:1"}
""")

# `docker push` of the same image: the layers go at once and finish out of order.
PUSH = _recorded("""
{"status":"The push refers to repository [$REGISTRY/rec/multi]"}
{"status":"Preparing","progressDetail":{},"id":"dadab90b2edc"}
{"status":"Preparing","progressDetail":{},"id":"c03db6f7a358"}
{"status":"Preparing","progressDetail":{},"id":"c094f6250667"}
{"status":"Pushing","progressDetail":{"current":215,"total":215},"id":"c094f6250667"}
{"status":"Pushing","progressDetail":{"current":215,"total":215},"id":"c094f6250667"}
{"status":"Pushed","progressDetail":{},"id":"c094f6250667"}
{"status":"Pushing","progressDetail":{"current":1048576,"total":3001340},"id":"c03db6f7a358"}
{"status":"Pushing","progressDetail":{"current":3001340,"total":3001340},"id":"c03db6f7a358"}
{"status":"Pushed","progressDetail":{},"id":"c03db6f7a358"}
{"status":"Pushing","progressDetail":{"current":1036336,"total":1036336},"id":"dadab90b2edc"}
{"status":"Pushing","progressDetail":{"current":1036336,"total":1036336},"id":"dadab90b2edc"}
{"status":"Pushed","progressDetail":{},"id":"dadab90b2edc"}
{"status":"1: digest: $DIGEST size: 945"}
{"progressDetail":{},"aux":{"Tag":"1","Digest":"$DIGEST","Size":945}}
""")

# `docker load` on a terminal (not quiet).
LOAD = _recorded("""
{"status":"Loading layer","progressDetail":{"current":2140160,"total":2140160},"id":"dadab90b2edc"}
{"stream":"Loaded image: busybox:latest\\n"}
""")

# A classic build whose FROM is pulled; its last step fails (the client raises on that).
BUILD = _recorded("""
{"stream":"Step 1/3 : FROM $REGISTRY/rec/multi:1\\n"}
{"status":"Pulling from rec/multi","id":"1"}
{"status":"Already exists","progressDetail":{},"id":"064676c20e14"}
{"status":"Pulling fs layer","progressDetail":{},"id":"9827544ed1ff"}
{"status":"Pulling fs layer","progressDetail":{},"id":"1a8f17f1dca7"}
{"status":"Downloading","progressDetail":{"current":1055744,"total":3001340},"id":"9827544ed1ff"}
{"status":"Downloading","progressDetail":{"current":215,"total":215},"id":"1a8f17f1dca7"}
{"status":"Verifying Checksum","progressDetail":{},"id":"9827544ed1ff"}
{"status":"Download complete","progressDetail":{},"id":"9827544ed1ff"}
{"status":"Verifying Checksum","progressDetail":{},"id":"1a8f17f1dca7"}
{"status":"Download complete","progressDetail":{},"id":"1a8f17f1dca7"}
{"status":"Extracting","progressDetail":{"current":1048576,"total":3001340},"id":"9827544ed1ff"}
{"status":"Extracting","progressDetail":{"current":3001340,"total":3001340},"id":"9827544ed1ff"}
{"status":"Pull complete","progressDetail":{},"id":"9827544ed1ff"}
{"status":"Extracting","progressDetail":{"current":215,"total":215},"id":"1a8f17f1dca7"}
{"status":"Extracting","progressDetail":{"current":215,"total":215},"id":"1a8f17f1dca7"}
{"status":"Pull complete","progressDetail":{},"id":"1a8f17f1dca7"}
{"status":"Digest: $DIGEST"}
{"status":"Status: Downloaded newer image for $REGISTRY/rec/multi:1"}
{"stream":" ---> 49d11a11eb18\\n"}
{"stream":"Step 2/3 : RUN echo -n part; sleep 1; echo done\\n"}
{"stream":" ---> Running in d5a5da8acd0a\\n"}
{"stream":"partdone\\n"}
{"stream":" ---> Removed intermediate container d5a5da8acd0a\\n"}
{"stream":" ---> 9b3a8a36995c\\n"}
{"stream":"Step 3/3 : RUN exit 3\\n"}
{"stream":" ---> Running in b39b6bc4417a\\n"}
""")

PULL_SCREEN = [
    "1: Pulling from rec/multi",
    "064676c20e14: Already exists",
    "9827544ed1ff: Pull complete",
    "1a8f17f1dca7: Pull complete",
    f"Digest: {DIGEST}",
    f"Status: Downloaded newer image for {REGISTRY}/rec/multi:1",
]


def _texts(entries: list[Row | Line]) -> list[str]:
    return [e.text.removesuffix("\n") if isinstance(e, Line) else e.text() for e in entries]


# -- the fold ---------------------------------------------------------------------------------


def test_a_pull_settles_as_the_docker_cli_s_terminal_screen_ends() -> None:
    board, settled = fold_all(PULL)
    assert _texts(settled) == PULL_SCREEN
    assert board == Board()


def test_rows_change_in_place_with_their_byte_counts() -> None:
    board, settled = fold_all(PULL[:8])
    # The head row finished at once; the others stay open, in the order they came.
    assert _texts(settled) == PULL_SCREEN[:2]
    assert board.rows == (
        Row("9827544ed1ff", "Downloading", 1081344, 3001340),
        Row("1a8f17f1dca7", "Download complete"),
    )
    assert board.rows[0].sizes() == "1.081MB/3.001MB"
    board, settled = fold_all(PULL[:13])
    assert _texts(settled)[-1] == "9827544ed1ff: Pull complete"
    assert board.rows == (Row("1a8f17f1dca7", "Download complete"),)


def test_a_row_finished_before_the_ones_above_it_waits_for_them() -> None:
    board, settled = fold_all(PUSH[:7])
    assert [(row.id, row.status) for row in board.rows] == [
        ("dadab90b2edc", "Preparing"), ("c03db6f7a358", "Preparing"),
        ("c094f6250667", "Pushed"),
    ]  # fmt: skip
    board, settled = fold_all(PUSH)
    assert _texts(settled) == [
        f"The push refers to repository [{REGISTRY}/rec/multi]",
        "dadab90b2edc: Pushed", "c03db6f7a358: Pushed", "c094f6250667: Pushed",
        f"1: digest: {DIGEST} size: 945",
    ]  # fmt: skip
    assert board.aux == ({"Tag": "1", "Digest": DIGEST, "Size": 945},)


def test_a_line_without_progress_closes_the_rows_above_it() -> None:
    board, settled = fold_all(LOAD)
    assert _texts(settled) == [
        "dadab90b2edc: Loading layer  2.14MB/2.14MB", "Loaded image: busybox:latest",
    ]  # fmt: skip
    # As jsonmessage: a message about an ID without progress is a line of its own, and a
    # later message about that ID starts a new row.
    opened = {"status": "Downloading", "id": "a", "progressDetail": {"current": 5}}
    board, settled = fold_all([opened, {"status": "Waiting", "id": "a"}, opened])
    assert _texts(settled) == ["a: Downloading  5B", "a: Waiting"]
    assert board.rows == (Row("a", "Downloading", 5),)


def test_build_steps_and_the_pull_of_from() -> None:
    board, settled = fold_all(BUILD[:6])
    assert board.step == f"Step 1/3 : FROM {REGISTRY}/rec/multi:1"
    assert [row.id for row in board.rows] == ["9827544ed1ff", "1a8f17f1dca7"]
    board, settled = fold_all(BUILD)
    assert board.step == "Step 3/3 : RUN exit 3"
    texts = _texts(settled)
    assert texts[:2] == [f"Step 1/3 : FROM {REGISTRY}/rec/multi:1", PULL_SCREEN[0]]
    assert texts[2:7] == PULL_SCREEN[1:]
    assert texts[-3:] == [" ---> 9b3a8a36995c", "Step 3/3 : RUN exit 3",
                          " ---> Running in b39b6bc4417a"]  # fmt: skip


def test_errors_and_aux_are_kept_and_not_shown() -> None:
    failed = {"errorDetail": {"message": "unknown blob"}, "error": "unknown blob"}
    assert fold(Board(), failed) == (Board(error="unknown blob"), ())
    assert fold(Board(), {"aux": {"ID": "sha256:1"}}) == (Board(aux=({"ID": "sha256:1"},)), ())


def test_the_live_display_is_for_terminals_only(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert progress_display.live_display_wanted()
    assert not progress_display.live_display_wanted(quiet=True)
    monkeypatch.setenv("TERM", "dumb")
    assert not progress_display.live_display_wanted()
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("NO_COLOR", "1")
    assert not progress_display.live_display_wanted()
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert not progress_display.live_display_wanted()


# -- the drawing --------------------------------------------------------------------------------


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


def screen_of(output: bytes, columns: int = 120, rows: int = 60) -> list[str]:
    """A terminal's lines after ``output`` (which has newlines as a terminal gets them)."""
    screen = pyte.Screen(columns, rows)
    pyte.ByteStream(screen).feed(output)
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _display(clock: Clock) -> tuple[LiveProgress, io.StringIO]:
    """A display drawing on a terminal 100 columns wide, its output kept."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, height=30, color_system=None)
    return LiveProgress(console, clock=clock, auto_refresh=False), out


def _screen(out: io.StringIO) -> list[str]:
    return screen_of(out.getvalue().replace("\n", "\r\n").encode(), 100, 30)


def _drawn(display: LiveProgress) -> list[str]:
    console = Console(file=io.StringIO(), width=100, color_system=None, record=True)
    console.print(display.renderable())
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_open_rows_are_drawn_with_a_bar_sizes_and_speed() -> None:
    clock = Clock()
    display, _ = _display(clock)
    for message in PULL[:11]:
        display.feed(message)
    drawn = _drawn(display)
    assert len(drawn) == 2
    assert re.fullmatch(r"9827544ed1ff: Extracting +━+ +1\.049MB/3\.001MB", drawn[0]), drawn
    assert re.fullmatch(r"1a8f17f1dca7: Download complete", drawn[1]), drawn
    clock.now += 2
    display.feed(PULL[11])
    # (3001340 - 1048576) bytes in two seconds.
    assert re.fullmatch(r"9827544ed1ff: Extracting +━{30} 3\.001MB/3\.001MB 976\.4kB/s",
                        _drawn(display)[0]), _drawn(display)  # fmt: skip
    clock.now += 2
    assert _drawn(display)[0].endswith("488.2kB/s")  # no bytes since: the speed falls
    display.close()


def test_the_scrollback_ends_as_the_docker_cli_s_screen() -> None:
    display, out = _display(Clock())
    with display:
        for message in PULL[:13]:
            display.feed(message)
        # Printed lines above, the row still open drawn below them.
        assert _screen(out) == [*PULL_SCREEN[:3], "1a8f17f1dca7: Download complete"]
        for message in PULL[13:]:
            display.feed(message)
    assert _screen(out) == PULL_SCREEN


def test_the_running_step_has_a_spinner_and_its_time() -> None:
    clock = Clock()
    display, out = _display(clock)
    with display:
        for message in BUILD[:20]:
            display.feed(message)
        clock.now += 1
        display.feed(BUILD[20])
        clock.now += 2.5
        assert _drawn(display)[-1].endswith(" Step 2/3 : RUN echo -n part; sleep 1; echo done 2.5s")
        display.feed({"stream": "part"})
        display.feed({"stream": "ial"})
        # Not a whole line yet: drawn live above the step, not printed.
        assert _drawn(display)[0] == "partial"
        assert "partial" not in _screen(out)[:-2]
        display.feed({"stream": " line\nand the next\n"})
        display.feed({"stream": "unfinished"})
    assert _screen(out)[-4:] == [
        "Step 2/3 : RUN echo -n part; sleep 1; echo done", "partial line", "and the next",
        "unfinished",
    ]  # fmt: skip
    assert _drawn(display) == []


def test_an_error_in_the_stream_ends_the_display_then_the_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def messages() -> AsyncIterator[dict[str, Any]]:
        for message in PULL[:8]:
            yield message
        raise StreamError("unexpected EOF")

    with pytest.raises(SystemExit) as ended:
        asyncio.run(show_progress(messages(), quiet=False, live=True))
    assert ended.value.code == 1
    printed, error = capsys.readouterr()
    # The rows as they stood, then the docker CLI's bare message.
    assert printed.splitlines() == [
        *PULL_SCREEN[:2], "9827544ed1ff: Downloading  1.081MB/3.001MB",
        "1a8f17f1dca7: Download complete",
    ]  # fmt: skip
    assert error == "unexpected EOF\n"


# -- against the engine, under a pseudo-terminal --------------------------------------------

ROWS, COLUMNS = 60, 120
CSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]")
HEX_ID = re.compile(r"\b[0-9a-f]{12}\b")


@dataclass
class Ran:
    returncode: int
    output: bytes  # what the terminal received
    stderr: str

    def screen(self) -> list[str]:
        """The terminal's lines once the command ended, as a user sees them."""
        return screen_of(self.output)


def in_terminal(args: list[str], env: Mapping[str, str], timeout: float = 120) -> Ran:
    """Run ``args`` with stdout on a fresh pseudo-terminal, read until it closes (bounded)."""
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=terminal,
                               stderr=subprocess.PIPE, env=dict(env))  # fmt: skip
    os.close(terminal)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                process.kill()
                raise AssertionError(f"{args} still running after {timeout}s: {chunks}")
            if not select.select([controller], [], [], left)[0]:
                continue
            try:
                chunk = os.read(controller, 1 << 16)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(controller)
    _, stderr = process.communicate(timeout=timeout)
    return Ran(process.returncode, b"".join(chunks), stderr.decode())


def _shape(lines: list[str]) -> list[str]:
    """Layer IDs and digests blanked: what must match between the two CLIs."""
    return [HEX_ID.sub("<id>", re.sub(r"sha256:[0-9a-f]{64}", "sha256:<digest>", line))
            for line in lines]  # fmt: skip


class Clients:
    """doca and the docker CLI on one engine, on a terminal or through pipes."""

    def __init__(self, engine: EngineProcess, config_dir: Path) -> None:
        config_dir.mkdir(parents=True, exist_ok=True)
        # An auths entry keeps the docker CLI from a credential helper that needs D-Bus.
        (config_dir / "config.json").write_text('{"auths": {"placeholder.invalid": {}}}')
        self.docker = DockerCLI(engine.host, config_dir, engine.last_error)

    def env(self) -> dict[str, str]:
        env = self.docker.env()
        for name in ("NO_COLOR", "COLUMNS", "LINES"):
            env.pop(name, None)
        return {**env, "TERM": "xterm-256color"}

    def doca_on_terminal(self, *args: str) -> Ran:
        return in_terminal([str(DOCA), *args], self.env())

    def docker_on_terminal(self, *args: str) -> Ran:
        return in_terminal([DOCKER, *args], {**self.env(), "DOCKER_BUILDKIT": "0"})

    def doca(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(DOCA), *args], capture_output=True, text=True,
                              env=self.docker.env(), timeout=120)  # fmt: skip


@dataclass
class Pushed:
    clients: Clients
    reference: str  # in the registry, not in the engine
    registry: str


needs_registry = pytest.mark.skipif(
    not registry_available() or not Path(DOCKER).exists(),
    reason="docker-registry and the docker CLI are needed",
)

LAYERS_DOCKERFILE = "FROM busybox\nRUN head -c 3000000 /dev/urandom > /big\nRUN echo hi > /small\n"


@pytest.fixture(scope="module")
def pushed(
    engine: EngineProcess, loaded_busybox: TestImage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pushed]:
    """A three-layer image (busybox and two more) pushed to a local registry and removed from
    the engine, so that pulling it downloads two layers and finds one."""
    if not registry_available():
        pytest.skip("docker-registry is needed")
    root = tmp_path_factory.mktemp("progress-registry")
    clients = Clients(engine, root / "config")
    context = root / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(LAYERS_DOCKERFILE)
    (root / "data").mkdir()
    with docker_registry(root / "data") as address:
        reference = f"{address}/progress/multi:1"
        assert clients.doca("build", "-q", "-t", reference, str(context)).returncode == 0
        clients.docker("push", reference)
        clients.docker("rmi", reference)
        yield Pushed(clients, reference, address)


@needs_registry
@pytest.mark.e2e
def test_pull_on_a_terminal_ends_as_the_docker_cli_s_screen(pushed: Pushed) -> None:
    clients, reference = pushed.clients, pushed.reference
    ours = clients.doca_on_terminal("pull", reference)
    assert (ours.returncode, ours.stderr) == (0, "")
    clients.docker("rmi", reference)
    theirs = clients.docker_on_terminal("pull", reference)
    clients.docker("rmi", reference)
    assert theirs.returncode == 0, theirs.stderr

    screen = ours.screen()
    assert b"\x1b[?25l" in ours.output  # drawn live: the cursor was hidden meanwhile
    assert screen[0] == "1: Pulling from progress/multi"
    assert [line.split(": ")[1] for line in screen[1:4]] == [
        "Already exists", "Pull complete", "Pull complete",
    ]  # fmt: skip
    assert re.fullmatch(r"Digest: sha256:[0-9a-f]{64}", screen[4])
    assert screen[5:] == [f"Status: Downloaded newer image for {reference}", reference]
    assert _shape(screen) == _shape(theirs.screen())


@needs_registry
@pytest.mark.e2e
def test_pull_through_a_pipe_prints_the_docker_cli_s_lines(pushed: Pushed) -> None:
    clients, reference = pushed.clients, pushed.reference
    ours = clients.doca("pull", reference)
    clients.docker("rmi", reference)
    theirs = clients.docker("pull", reference)
    clients.docker("rmi", reference)
    assert ours.returncode == 0, ours.stderr
    assert "\x1b" not in ours.stdout
    assert _shape(ours.stdout.splitlines()) == _shape(theirs.stdout.splitlines())
    assert ours.stdout.count("Pull complete") == 2


@needs_registry
@pytest.mark.e2e
def test_push_and_load_on_a_terminal(pushed: Pushed, test_image: TestImage) -> None:
    clients = pushed.clients
    target = f"{pushed.registry}/progress/busybox:1"
    clients.docker("tag", test_image.repo_tag, target)
    ours = clients.doca_on_terminal("push", target)
    assert (ours.returncode, ours.stderr) == (0, "")
    screen = ours.screen()
    assert screen[0] == f"The push refers to repository [{pushed.registry}/progress/busybox]"
    # The layer is the pushed image's base: the registry mounts it from that repository.
    assert re.fullmatch(r"[0-9a-f]{12}: Mounted from progress/multi", screen[1]), screen
    assert re.fullmatch(r"1: digest: sha256:[0-9a-f]{64} size: \d+", screen[2]), screen
    assert len(screen) == 3

    loaded = clients.doca_on_terminal("load", "-i", str(test_image.save_tar))
    assert (loaded.returncode, loaded.stderr) == (0, "")
    assert re.fullmatch(r"[0-9a-f]{12}: Loading layer  (\S+)/\1", loaded.screen()[0])
    assert loaded.screen()[1:] == [f"Loaded image: {test_image.repo_tag}"]


@needs_registry
@pytest.mark.e2e
def test_build_on_a_terminal_shows_steps_pulls_and_the_failure(
    pushed: Pushed, tmp_path: Path
) -> None:
    clients, reference = pushed.clients, pushed.reference
    (tmp_path / "Dockerfile").write_text(
        f"FROM {reference}\nRUN echo -n part; sleep 1; echo done\nRUN exit 3\n"
    )
    ours = clients.doca_on_terminal("build", str(tmp_path))
    # The second step's image holds the pulled layers: both go, for the next test to pull.
    clients.docker("rmi", reference)
    clients.docker("image", "prune", "-f")
    assert ours.returncode == 3
    assert ours.stderr == "The command '/bin/sh -c exit 3' returned a non-zero code: 3\n"
    # While the second step slept, a spinner turned beside it.
    assert any(frame.encode() in ours.output for frame in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
    # (The docker CLI prints a classic build's lines as it does off a terminal.)
    assert _shape(ours.screen()) == [
        "Sending build context to Docker daemon  2.048kB",
        f"Step 1/3 : FROM {reference}",
        "1: Pulling from progress/multi",
        "<id>: Already exists",
        "<id>: Pull complete",
        "<id>: Pull complete",
        "Digest: sha256:<digest>",
        f"Status: Downloaded newer image for {reference}",
        " ---> <id>",
        "Step 2/3 : RUN echo -n part; sleep 1; echo done",
        " ---> Running in <id>",
        "partdone",
        " ---> Removed intermediate container <id>",
        " ---> <id>",
        "Step 3/3 : RUN exit 3",
        " ---> Running in <id>",
    ]
