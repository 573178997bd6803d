"""The daemon's own behaviour: socket permissions, pid file, config file, signals, hosts."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import DockerCLI, EngineProcess, free_port, short_root


@pytest.fixture
def root() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("a real doca-engine needs root (mounts, device nodes, runtimes)")
    path = short_root()
    yield path


def run_engine(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], capture_output=True, text=True, timeout=timeout
    )


def test_socket_mode_pidfile_and_clean_shutdown(root: Path) -> None:
    engine = EngineProcess(root)
    engine.start()
    try:
        mode = stat.S_IMODE(engine.socket.stat().st_mode)
        assert mode == 0o660
        pidfile = root / "doca.pid"
        assert engine.proc is not None
        assert int(pidfile.read_text()) == engine.proc.pid
        # a second engine with the same pid file refuses to start
        second = run_engine(
            "-H", f"unix://{root}/other.sock", "--data-root", str(root / "d2"),
            "--exec-root", str(root / "e2"), "--pidfile", str(pidfile),
        )  # fmt: skip
        assert second.returncode == 1
        assert "pid file found" in second.stderr
    finally:
        code = engine.stop(signal.SIGTERM)
    assert code == 0
    assert not (root / "doca.pid").exists()
    assert "shutting down" in engine.log_text()


def test_config_file_and_reload_on_sighup(root: Path) -> None:
    config = root / "daemon.json"
    config.write_text(json.dumps({"data-root": str(root / "from-file"), "log-level": "info"}))
    engine = EngineProcess(root, ["--config-file", str(config)])
    clash = run_engine("--config-file", str(config), "--data-root", str(root / "flag"))
    assert clash.returncode == 1
    assert "specified both as a flag and in the configuration file: data-root" in clash.stderr

    config.write_text(json.dumps({"labels": ["tier=test"]}))
    engine.start()
    try:
        cli = DockerCLI(engine.host, root)
        assert json.loads(cli("info", "--format", "{{json .Labels}}").stdout) == ["tier=test"]
        config.write_text(json.dumps({"labels": ["tier=reloaded"], "debug": True}))
        assert engine.proc is not None
        since = time.time()
        engine.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "configuration reloaded" not in engine.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert json.loads(cli("info", "--format", "{{json .Labels}}").stdout) == ["tier=reloaded"]
        events = cli(
            "events", "--since", f"{since - 1:.3f}", "--until", f"{time.time():.3f}",
            "--filter", "type=daemon", "--format", "{{.Action}}",
        ).stdout.split()  # fmt: skip
        assert events == ["reload"]
    finally:
        engine.stop()
        engine.cleanup()


def test_unknown_config_key_is_refused(root: Path) -> None:
    config = root / "daemon.json"
    config.write_text(json.dumps({"no-such-option": True}))
    result = run_engine("--config-file", str(config))
    assert result.returncode == 1
    assert "unknown directive 'no-such-option'" in result.stderr


def test_tcp_needs_tls_or_an_explicit_loopback_opt_in(root: Path) -> None:
    port = free_port()
    refused = run_engine(
        "-H", f"tcp://127.0.0.1:{port}", "--data-root", str(root / "d"),
        "--exec-root", str(root / "e"),
    )  # fmt: skip
    assert refused.returncode == 1
    assert "without TLS" in refused.stderr
    assert not (root / "d").exists()  # refused before it made anything (data root, bridge)
    public = run_engine(
        "-H", f"tcp://0.0.0.0:{port}", "--insecure-tcp", "--data-root", str(root / "d"),
        "--exec-root", str(root / "e"),
    )  # fmt: skip
    assert public.returncode == 1

    engine = EngineProcess(root, ["-H", f"tcp://127.0.0.1:{port}", "--insecure-tcp"])
    engine.start()
    try:
        cli = DockerCLI(f"tcp://127.0.0.1:{port}", root)
        assert "Doca Engine" in cli("version").stdout
    finally:
        engine.stop()
        engine.cleanup()


def test_socket_activation_with_fd(root: Path) -> None:
    """As under systemd's doca.socket: the socket exists first, the engine starts on the
    first connection and serves the descriptor it was handed (``-H fd://``)."""
    refused = run_engine(
        "-H", "fd://", "--data-root", str(root / "d"), "--exec-root", str(root / "e")
    )
    assert refused.returncode == 1 and "LISTEN_FDS" in refused.stderr
    assert not (root / "d").exists()

    sock = root / "activated.sock"
    bridge = EngineProcess(root).bridge
    log = (root / "engine.log").open("ab")
    activator = subprocess.Popen(
        ["systemd-socket-activate", "-l", str(sock), sys.executable, "-m", "engine",
         "-H", "fd://", "--data-root", str(root / "d"), "--exec-root", str(root / "e"),
         "--bridge", bridge],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log.close()
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        cli = DockerCLI(f"unix://{sock}", root)
        assert "Doca Engine" in cli("version", timeout=60).stdout  # the first call starts it
        assert cli("info", "--format", "{{.Driver}}").returncode == 0
    finally:
        activator.send_signal(signal.SIGTERM)
        try:
            activator.wait(30)
        except subprocess.TimeoutExpired:
            activator.kill()
            activator.wait()
        EngineProcess(root, bridge=bridge).cleanup()
