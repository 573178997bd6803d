"""Remote engines: TLS certificates from `doca engine certs`, and engines over SSH.

One engine serves its unix socket and, with the certificates `doca engine certs` made, TLS on
a port of 127.0.0.1. One OpenSSH server (Debian's, started here on loopback ports with a host
key and an authorized key of its own) stands for the remote host; each of its ports gives the
remote session a different PATH:

- ``docker``: the real docker CLI, pointed at the engine by ``DOCKER_HOST``;
- ``doca-as-docker``: only `doca`, under the name ``docker``, so the docker CLI's own remote
  command (``docker system dial-stdio``) runs doca's dial-stdio;
- ``doca``: only `doca`, and a ``DOCKER_HOST`` where no engine listens, so only the socket path
  of an ``ssh://host/path`` URL reaches the engine.

ssh itself is a wrapper that adds a config of the test's (its key, its known_hosts): ssh reads
the user's config from the passwd entry's home, which a test must not touch.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from doca.client import EngineClient, EngineUnavailable
from doca.client.context_store import Context, ContextStore, endpoint_meta
from tests.support.engine import (
    DOCKER,
    DockerCLI,
    EngineProcess,
    free_port,
    short_root,
)
from tests.support.testimage import TestImage

pytestmark = pytest.mark.e2e

DOCA = Path(sys.executable).with_name("doca")
SSHD = Path("/usr/sbin/sshd")
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
REAL_SSH = shutil.which("ssh") or "/usr/bin/ssh"
# sshd's privilege separation directory, compiled in; the openssh-server service makes it.
PRIVSEP_DIR = Path("/run/sshd")
SLEEPER = "remote-sleeper"


def run(
    argv: list[str], env: dict[str, str], input: bytes | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, input=input, capture_output=True, env=env, timeout=timeout)
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(NO_COLOR="1", **extra)
    return env


# --- certificates and the engine -------------------------------------------------------------


@dataclass(frozen=True)
class CertDirs:
    client: Path
    server: Path


@pytest.fixture(scope="module")
def cert_dirs(tmp_path_factory: pytest.TempPathFactory) -> CertDirs:
    """What `doca engine certs` writes, into a client directory and its server/."""
    client = tmp_path_factory.mktemp("certs") / "client"
    made = run([str(DOCA), "engine", "certs", "--dir", str(client), "--host", "engine.test"],
               clean_env())  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "--tlscert " + str(client / "server" / "server-cert.pem") in made.stdout
    return CertDirs(client, client / "server")


@pytest.fixture(scope="module")
def tls_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def engine(test_image: TestImage, cert_dirs: CertDirs, tls_port: int) -> Iterator[EngineProcess]:
    """This module's engine: its unix socket, and TLS with the generated server files."""
    if os.geteuid() != 0:
        pytest.skip("a real doca-engine needs root")
    root = short_root()
    server = cert_dirs.server
    process = EngineProcess(root, [
        "-H", f"tcp://127.0.0.1:{tls_port}", "--tlsverify",
        "--tlscacert", str(server / "ca.pem"), "--tlscert", str(server / "server-cert.pem"),
        "--tlskey", str(server / "server-key.pem"),
    ])  # fmt: skip
    try:
        process.start()
        yield process
    finally:
        _remove_containers(process)
        process.stop()
        process.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _remove_containers(process: EngineProcess) -> None:
    """Containers outlive their engine (conmon keeps them): remove what the tests left."""
    if process.proc is None or not process.answers_ping():
        return
    config = process.root / "docker-config"
    config.mkdir(exist_ok=True)
    cli = DockerCLI(process.host, config)
    ids = cli("ps", "-aq", check=False).stdout.split()
    if ids:
        cli("rm", "-f", *ids, check=False)


@pytest.fixture(scope="module")
def sleeper(docker: DockerCLI, loaded_busybox: TestImage) -> str:
    """A running container, for the remote listings to show."""
    docker("run", "-d", "--name", SLEEPER, "busybox", "sleep", "600")
    return SLEEPER


# --- an OpenSSH server on loopback ports -------------------------------------------------------


@dataclass
class SSHServer:
    root: Path
    ports: dict[str, int]
    process: subprocess.Popen[bytes]

    @property
    def client_bin(self) -> Path:
        """A directory whose ``ssh`` uses this server's key and known host key."""
        return self.root / "client-bin"

    def url(self, kind: str, path: str = "") -> str:
        return f"ssh://root@127.0.0.1:{self.ports[kind]}{path}"

    def env(self, **extra: str) -> dict[str, str]:
        """An environment whose ssh is the wrapper, with a docker config of its own."""
        return clean_env(
            PATH=f"{self.client_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            DOCKER_CONFIG=str(self.root / "client-config"), **extra,
        )  # fmt: skip

    def log(self) -> str:
        return (self.root / "sshd.log").read_text(errors="replace")[-3000:]


def _keygen(path: Path) -> str:
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "doca-test",
                    "-f", str(path)], check=True, timeout=30)  # fmt: skip
    return path.with_suffix(".pub").read_text().strip()


def _bin_dir(directory: Path, names: dict[str, Path]) -> Path:
    directory.mkdir()
    for name, target in names.items():
        (directory / name).symlink_to(target)
    return directory


def _sshd_config(root: Path, engine: EngineProcess, ports: dict[str, int]) -> str:
    remote_config = root / "remote-config"
    remote_config.mkdir()
    common = f"HOME={root} DOCKER_CONFIG={remote_config}"
    engine_host = f"DOCKER_HOST={engine.host}"
    doca_as_docker = _bin_dir(root / "bin-doca-as-docker", {"docker": DOCA})
    doca_only = _bin_dir(root / "bin-doca", {"doca": DOCA})
    lines = [*(f"ListenAddress 127.0.0.1:{port}" for port in ports.values()),
        f"HostKey {root / 'host_key'}",
        f"AuthorizedKeysFile {root / 'authorized_keys'}",
        "AuthenticationMethods publickey", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "UsePAM no",
        # The temporary files sit under /tmp, which StrictModes would refuse.
        "StrictModes no", "PidFile none", "PrintMotd no", "PrintLastLog no",
        # HOME of its own: the login shell must not read root's own rc files.
        f"SetEnv {common} {engine_host}",
        f"Match LocalPort {ports['doca-as-docker']}",
        f"  SetEnv {common} {engine_host} PATH={doca_as_docker}",
        f"Match LocalPort {ports['doca']}",
        f"  SetEnv {common} DOCKER_HOST=unix://{root}/nothing.sock PATH={doca_only}",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def _client_side(root: Path, host_key: str, ports: dict[str, int]) -> None:
    hosts = ",".join(f"[127.0.0.1]:{port}" for port in ports.values())
    (root / "known_hosts").write_text(f"{hosts} {host_key}\n")
    (root / "ssh_config").write_text(
        "Host *\n"
        f"  IdentityFile {root / 'client_key'}\n  IdentitiesOnly yes\n  IdentityAgent none\n"
        f"  UserKnownHostsFile {root / 'known_hosts'}\n  GlobalKnownHostsFile /dev/null\n"
        "  StrictHostKeyChecking yes\n  LogLevel ERROR\n"
    )
    wrapper = root / "client-bin" / "ssh"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {REAL_SSH} -F {root / "ssh_config"} "$@"\n')
    wrapper.chmod(0o755)
    (root / "client-config").mkdir()


def _wait_listening(server: SSHServer, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    for port in server.ports.values():
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(f"sshd exited at start:\n{server.log()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not listen on {port}:\n{server.log()}") from None
                time.sleep(0.05)


@pytest.fixture(scope="module")
def sshd(engine: EngineProcess) -> Iterator[SSHServer]:
    if not SSHD.exists():
        pytest.skip("openssh-server is not installed (/usr/sbin/sshd)")
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    root = short_root()
    ports = {kind: free_port() for kind in ("docker", "doca-as-docker", "doca")}
    host_key = _keygen(root / "host_key")
    (root / "authorized_keys").write_text(_keygen(root / "client_key") + "\n")
    config = root / "sshd_config"
    config.write_text(_sshd_config(root, engine, ports))
    _client_side(root, host_key, ports)
    with (root / "sshd.log").open("ab") as log:
        process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)],
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    server = SSHServer(root, ports, process)
    try:
        _wait_listening(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


# --- TLS with the generated certificates -------------------------------------------------------


def test_certs_are_written_in_the_docker_clis_layout(cert_dirs: CertDirs) -> None:
    modes = {path.name: path.stat().st_mode & 0o777
             for path in [*cert_dirs.client.iterdir(), *cert_dirs.server.iterdir()]
             if path.is_file()}  # fmt: skip
    assert modes == {"ca.pem": 0o644, "cert.pem": 0o644, "key.pem": 0o600,
                     "server-cert.pem": 0o644, "server-key.pem": 0o600}  # fmt: skip
    again = run([str(DOCA), "engine", "certs", "--dir", str(cert_dirs.client)], clean_env())
    assert again.returncode == 1
    assert "already exists; use --force" in again.stderr


def test_docker_cli_reaches_the_engine_with_the_generated_client_certificate(
    engine: EngineProcess, cert_dirs: CertDirs, tls_port: int, sleeper: str, tmp_path: Path
) -> None:
    env = clean_env(
        DOCKER_HOST=f"tcp://127.0.0.1:{tls_port}", DOCKER_TLS_VERIFY="1",
        DOCKER_CERT_PATH=str(cert_dirs.client), DOCKER_CONFIG=str(tmp_path),
    )  # fmt: skip
    listed = run([DOCKER, "ps", "--format", "{{.Names}}"], env)
    assert (listed.returncode, listed.stderr) == (0, "")
    assert sleeper in listed.stdout.split()
    # The server certificate names localhost too.
    by_name = run([DOCKER, "-H", f"tcp://localhost:{tls_port}", "version", "--format",
                   "{{.Server.Platform.Name}}"], env)  # fmt: skip
    assert (by_name.returncode, by_name.stdout) == (0, "Doca Engine\n"), by_name.stderr


def test_a_client_without_the_certificate_is_refused(
    engine: EngineProcess, cert_dirs: CertDirs, tls_port: int, tmp_path: Path
) -> None:
    # Only the CA: the CLI trusts the engine but has no certificate to show it.
    only_ca = tmp_path / "only-ca"
    only_ca.mkdir()
    shutil.copy(cert_dirs.client / "ca.pem", only_ca / "ca.pem")
    env = clean_env(DOCKER_HOST=f"tcp://127.0.0.1:{tls_port}", DOCKER_TLS_VERIFY="1",
                    DOCKER_CERT_PATH=str(only_ca), DOCKER_CONFIG=str(tmp_path))  # fmt: skip
    refused = run([DOCKER, "ps"], env)
    assert refused.returncode == 1
    assert "tls: certificate required" in refused.stderr


# --- dial-stdio ------------------------------------------------------------------------------


def ping_through_dial_stdio(host: str, env: dict[str, str]) -> bytes:
    """GET /_ping through `doca -H HOST system dial-stdio`, stdin kept open: the engine's
    answer must end the command by itself."""
    proc = subprocess.Popen(
        [str(DOCA), "-H", host, "system", "dial-stdio"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"GET /_ping HTTP/1.1\r\nHost: doca\r\nConnection: close\r\n\r\n")
        proc.stdin.flush()
        answer = proc.stdout.read()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
    return answer


def test_dial_stdio_relays_until_the_engine_is_done(engine: EngineProcess) -> None:
    answer = ping_through_dial_stdio(engine.host, clean_env())
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"\r\n\r\nOK")


def test_dial_stdio_reports_an_engine_it_cannot_reach(tmp_path: Path) -> None:
    missing = tmp_path / "none.sock"
    failed = run([str(DOCA), "-H", f"unix://{missing}", "system", "dial-stdio"], clean_env(),
                 input=b"")  # fmt: skip
    assert failed.returncode == 1
    assert failed.stderr == (
        f"failed to open the raw stream connection: dial unix {missing}: connect: "
        "no such file or directory\n"
    )


# --- the docker CLI over SSH --------------------------------------------------------------------


@pytest.mark.parametrize("remote", ["docker", "doca-as-docker"])
def test_docker_cli_over_ssh(sshd: SSHServer, sleeper: str, remote: str) -> None:
    """``DOCKER_HOST=ssh://…``: the CLI runs ``docker system dial-stdio`` on the remote side,
    the real one or doca's; a piped stdin ends through SSH and the output still arrives."""
    env = sshd.env(DOCKER_HOST=sshd.url(remote))
    listed = run([DOCKER, "ps", "--format", "{{.Names}}"], env)
    assert listed.returncode == 0, f"{listed.stderr}\n{sshd.log()}"
    assert sleeper in listed.stdout.split()
    piped = run([DOCKER, "run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done"], env,
                input=b"through ssh\n", timeout=60)  # fmt: skip
    assert (piped.returncode, piped.stdout) == (0, "through ssh\ndone\n"), piped.stderr


def test_dial_stdio_to_an_ssh_host_hands_its_stdio_to_ssh(sshd: SSHServer) -> None:
    answer = ping_through_dial_stdio(sshd.url("docker"), sshd.env())
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"\r\n\r\nOK")


# --- doca and the desktop app's client over SSH -------------------------------------------------


def test_doca_over_ssh(sshd: SSHServer, engine: EngineProcess, sleeper: str) -> None:
    listed = run([str(DOCA), "-H", sshd.url("docker"), "ps", "--format", "{{.Names}}"],
                 sshd.env())  # fmt: skip
    assert listed.returncode == 0, f"{listed.stderr}\n{sshd.log()}"
    assert sleeper in listed.stdout.split()
    # A host with only doca: its dial-stdio, to the socket the URL names.
    by_path = sshd.url("doca", str(engine.socket))
    named = run([str(DOCA), "-H", by_path, "ps", "--format", "{{.Names}}"], sshd.env())
    assert named.returncode == 0, f"{named.stderr}\n{sshd.log()}"
    assert sleeper in named.stdout.split()
    piped = run([str(DOCA), "-H", by_path, "run", "-i", "--rm", "busybox", "cat"], sshd.env(),
                input=b"both ways\n", timeout=60)  # fmt: skip
    assert (piped.returncode, piped.stdout) == (0, "both ways\n"), piped.stderr


async def test_engine_client_lists_containers_over_ssh(
    sshd: SSHServer, sleeper: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", sshd.env()["PATH"])
    async with EngineClient(sshd.url("docker")) as client:
        assert await client.ping()
        assert (await client.version())["ApiVersion"] == "1.47"
        names = [name for row in await client.containers.list() for name in row["Names"]]
        assert f"/{sleeper}" in names
        # A second request reuses or reopens a connection as any other transport would.
        info = await client.info()
        assert info["ContainersRunning"] >= 1


async def test_engine_client_reports_why_ssh_failed(
    sshd: SSHServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remote dial-stdio cannot reach an engine: the error carries its words."""
    monkeypatch.setenv("PATH", sshd.env()["PATH"])
    async with EngineClient(sshd.url("doca")) as client:
        assert not await client.ping()
        with pytest.raises(EngineUnavailable) as error:
            await client.version()
    message = error.value.message
    assert "has exited with exit status 1" in message
    assert "failed to open the raw stream connection: dial unix" in message


# --- contexts with their engines' state -----------------------------------------------------


def test_context_ls_shows_each_engines_state(
    sshd: SSHServer, engine: EngineProcess, sleeper: str
) -> None:
    env = sshd.env()
    store = ContextStore(Path(env["DOCKER_CONFIG"]))
    for name, host in (("local", engine.host), ("remote", sshd.url("docker")),
                       ("gone", f"unix://{sshd.root}/nothing.sock")):  # fmt: skip
        store.save(Context(name, {}, {"docker": endpoint_meta(host)}))
    try:
        listed = run([str(DOCA), "context", "ls", "--state", "--format", "json"], env)
        assert listed.returncode == 0, listed.stderr
        rows = {row["Name"]: row for row in map(json.loads, listed.stdout.splitlines())}
        for name in ("local", "remote"):
            assert rows[name]["State"] == "reachable", rows[name]
            assert rows[name]["EngineVersion"]
            assert int(rows[name]["ContainersRunning"]) >= 1
        assert rows["gone"]["State"] == "unreachable"
        assert rows["gone"]["ContainersRunning"] == ""
        table = run([str(DOCA), "context", "ls", "--state"], env).stdout.splitlines()
        assert table[0].split() == ["NAME", "DESCRIPTION", "DOCKER", "ENDPOINT", "STATE",
                                    "VERSION", "RUNNING", "ERROR"]  # fmt: skip
        # Without --state the listing stays the docker CLI's own (the default context's
        # endpoint differs between the two CLIs unless DOCKER_HOST names it).
        same_default = {**env, "DOCKER_HOST": engine.host}
        plain = run([str(DOCA), "context", "ls", "--format", "json"], same_default)
        theirs = run([DOCKER, "context", "ls", "--format", "json"], same_default)
        assert (plain.returncode, plain.stdout) == (0, theirs.stdout)
    finally:
        for name in ("local", "remote", "gone"):
            store.remove(name)
