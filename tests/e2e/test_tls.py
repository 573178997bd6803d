"""The API over TCP with TLS client certificates (``--tlsverify``), as dockerd serves it.

One engine listens on its unix socket and on a TLS port of 127.0.0.1; the real docker CLI
reaches it with a client certificate from the engine's CA, and every other client (no
certificate, one from another CA, plain HTTP) is turned away during the handshake.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from engine.config import load_config
from engine.errors import InvalidParameter
from engine.tls import server_ssl_context
from tests.support.engine import DockerCLI, EngineProcess, free_port, running_engine, short_root
from tests.support.testimage import TestImage

# --- a CA, the engine's certificate and clients' -------------------------------------------


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None = None,
    usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    """A certificate for ``key``: a CA's own when ``issuer`` is None, else signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, signer = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _write(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> Pair:
    pair = Pair(directory / f"{stem}.pem", directory / f"{stem}-key.pem")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pair.key.chmod(0o600)
    return pair


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: Pair
    client: Pair
    stranger: Pair  # a client certificate from another CA


def make_pki(directory: Path) -> Pki:
    ca_key, other_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _write(directory, "ca", _issue("doca test CA", ca_key), ca_key)
    pairs = {}
    for stem, issuer, usage in (
        ("server", ("doca test CA", ca_key), ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ("doca test CA", ca_key), ExtendedKeyUsageOID.CLIENT_AUTH),
        ("stranger", ("another CA", other_key), ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        pairs[stem] = _write(directory, stem, _issue(stem, key, issuer, usage), key)
    return Pki(ca.cert, pairs["server"], pairs["client"], pairs["stranger"])


# --- fixtures: one TLS engine for the module ------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def engine(test_image: TestImage, pki: Pki, tls_port: int) -> Iterator[EngineProcess]:
    """This module's engine: its unix socket, and TLS with client certificates on 127.0.0.1."""
    with running_engine([
        "-H", f"tcp://127.0.0.1:{tls_port}", "--tlsverify", "--tlscacert", str(pki.ca),
        "--tlscert", str(pki.server.cert), "--tlskey", str(pki.server.key),
    ]) as process:  # fmt: skip
        yield process


@pytest.fixture(scope="module")
def tls_docker(engine: EngineProcess, tls_port: int) -> DockerCLI:
    config_dir = engine.root / "docker-config-tls"
    config_dir.mkdir(exist_ok=True)
    return DockerCLI(f"tcp://127.0.0.1:{tls_port}", config_dir, engine.last_error)


def tls_flags(pki: Pki, client: Pair | None) -> list[str]:
    flags = ["--tlsverify", "--tlscacert", str(pki.ca)]
    if client is not None:
        flags += ["--tlscert", str(client.cert), "--tlskey", str(client.key)]
    return flags


def client_context(pki: Pki, client: Pair | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if client is not None:
        context.load_cert_chain(client.cert, client.key)
    return context


def ping_over_tls(port: int, context: ssl.SSLContext) -> bytes:
    """GET /_ping over TLS; what came back (a refused client gets an ssl.SSLError)."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET /_ping HTTP/1.1\r\nHost: doca\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        return answer


# --- the tests ------------------------------------------------------------------------------


def test_docker_cli_with_a_client_certificate(
    tls_docker: DockerCLI, pki: Pki, loaded_busybox: TestImage
) -> None:
    flags = tls_flags(pki, pki.client)
    version = tls_docker(*flags, "version", "--format", "{{.Server.Platform.Name}}")
    assert version.stdout.strip() == "Doca Engine"
    assert tls_docker(*flags, "run", "--rm", "busybox", "echo", "hi").stdout == "hi\n"


def test_attach_and_exec_keep_their_output_after_the_client_closes_its_side(
    tls_docker: DockerCLI, pki: Pki, loaded_busybox: TestImage
) -> None:
    """The CLI ends stdin with a TLS close_notify and reads on: output sent after it, and the
    exit code, still arrive."""
    flags = tls_flags(pki, pki.client)
    piped = tls_docker(*flags, "run", "-i", "--rm", "busybox", "cat", input=b"piped\n")
    assert piped.stdout == "piped\n"
    late = tls_docker(
        *flags, "run", "--rm", "busybox", "sh", "-c", "sleep 1; echo late; exit 3", check=False
    )
    assert (late.returncode, late.stdout) == (3, "late\n")
    name = "tls-exec"
    tls_docker(*flags, "run", "-d", "--name", name, "busybox", "sleep", "60")
    try:
        assert tls_docker(*flags, "exec", "-i", name, "cat", input=b"to exec\n").stdout == (
            "to exec\n"
        )
    finally:
        tls_docker(*flags, "rm", "-f", name)


def test_a_client_without_a_certificate_is_refused(
    tls_docker: DockerCLI, pki: Pki, tls_port: int
) -> None:
    refused = tls_docker(*tls_flags(pki, None), "version", check=False)
    assert refused.returncode == 1
    assert "tls: certificate required" in refused.stderr
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        ping_over_tls(tls_port, client_context(pki, None))


def test_a_certificate_from_another_ca_is_refused(
    tls_docker: DockerCLI, pki: Pki, tls_port: int
) -> None:
    refused = tls_docker(*tls_flags(pki, pki.stranger), "version", check=False)
    assert refused.returncode == 1
    assert "tls: unknown certificate authority" in refused.stderr
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        ping_over_tls(tls_port, client_context(pki, pki.stranger))
    # The same client with the right certificate is served.
    assert ping_over_tls(tls_port, client_context(pki, pki.client)).endswith(b"\r\n\r\nOK")


def test_plain_http_to_the_tls_port_gets_no_answer(tls_port: int, engine: EngineProcess) -> None:
    with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as sock:
        sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: doca\r\n\r\n")
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    assert b"OK" not in answer and not answer.startswith(b"HTTP/")
    assert engine.answers_ping()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_tls_below_1_2_is_refused(pki: Pki, tls_port: int) -> None:
    context = client_context(pki, pki.client)
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"):  # the engine's alert
        ping_over_tls(tls_port, context)


# --- refusals at start ----------------------------------------------------------------------


def run_engine(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", "--data-root", str(root / "d"),
         "--exec-root", str(root / "e"), *args],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


@pytest.fixture
def root() -> Iterator[Path]:
    path = short_root()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_engine_refuses_a_public_tcp_host_without_tls_before_binding(root: Path) -> None:
    port = free_port()
    for extra in ([], ["--insecure-tcp"], ["--tlsverify=false", "--insecure-tcp"]):
        refused = run_engine(root, "-H", f"tcp://0.0.0.0:{port}", *extra)
        assert refused.returncode == 1, extra
        assert f"refusing to listen on tcp://0.0.0.0:{port} without TLS" in refused.stderr
        assert "root access" in refused.stderr
        assert not (root / "d").exists()  # refused before it made or bound anything


def test_engine_refuses_tls_material_it_cannot_use(root: Path, pki: Pki) -> None:
    port = free_port()
    host = f"tcp://127.0.0.1:{port}"
    missing = root / "missing.pem"
    refused = run_engine(
        root, "-H", host, "--tlsverify", "--tlscacert", str(pki.ca),
        "--tlscert", str(missing), "--tlskey", str(pki.server.key),
    )  # fmt: skip
    assert refused.returncode == 1
    assert "invalid TLS configuration: could not load X509 key pair" in refused.stderr
    assert f"open {missing}: no such file or directory" in refused.stderr
    no_ca = run_engine(
        root, "-H", host, "--tlsverify", "--tlscacert", str(missing),
        "--tlscert", str(pki.server.cert), "--tlskey", str(pki.server.key),
    )  # fmt: skip
    assert no_ca.returncode == 1
    assert f'could not read CA certificate "{missing}"' in no_ca.stderr
    assert not (root / "d").exists()


def test_server_context_follows_dockerds_settings(pki: Pki) -> None:
    def context(*flags: str) -> ssl.SSLContext:
        server = ["--tlscert", str(pki.server.cert), "--tlskey", str(pki.server.key)]
        return server_ssl_context(load_config([*flags, *server]))

    verify = context("--tlsverify", "--tlscacert", str(pki.ca))
    assert verify.verify_mode == ssl.CERT_REQUIRED
    assert verify.minimum_version == ssl.TLSVersion.TLSv1_2
    # --tls alone verifies clients as well (dockerd since 20.10); --tlsverify=false does not.
    assert context("--tls", "--tlscacert", str(pki.ca)).verify_mode == ssl.CERT_REQUIRED
    assert context("--tls", "--tlsverify=false").verify_mode == ssl.CERT_NONE
    with pytest.raises(InvalidParameter, match="failed to append certificates from PEM file"):
        context("--tlsverify", "--tlscacert", str(pki.server.key))
