"""`doca engine certs`: the certificates it issues, and the files it writes."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from doca.cli.engine_certs import certs
from doca.cli.tls_certificates import issue, subject_names

NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _load(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def test_subject_names_take_addresses_names_and_the_local_ones() -> None:
    names = subject_names(["Engine.Example", "10.0.0.7", "[::1]", "localhost", ""])
    assert names == [
        x509.DNSName("engine.example"),
        x509.IPAddress(ipaddress.ip_address("10.0.0.7")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]


def test_the_server_certificate_verifies_for_each_name_and_the_client_one_as_a_client() -> None:
    made = issue(["engine.example", "192.0.2.10"], days=30, now=NOW)
    store = Store([_load(made.ca.cert)])
    server, client = _load(made.server.cert), _load(made.client.cert)
    builder = PolicyBuilder().store(store).time(NOW)
    for name in (x509.DNSName("engine.example"), x509.DNSName("localhost"),
                 x509.IPAddress(ipaddress.ip_address("192.0.2.10")),
                 x509.IPAddress(ipaddress.ip_address("127.0.0.1"))):  # fmt: skip
        builder.build_server_verifier(name).verify(server, [])
    # (The web-PKI client policy wants a SAN, which TLS client certificates do without: the
    # handshake test below has the client certificate verified as the engine verifies it.)
    client.verify_directly_issued_by(_load(made.ca.cert))
    client_usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(client_usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    # Each leaf serves its own side only.
    with pytest.raises(x509.verification.VerificationError):
        builder.build_server_verifier(x509.DNSName("localhost")).verify(client, [])
    with pytest.raises(x509.verification.VerificationError):
        builder.build_server_verifier(x509.DNSName("other.example")).verify(server, [])
    usage = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert server.not_valid_after_utc - NOW == datetime.timedelta(days=30)


def test_a_client_and_a_server_shake_hands_with_them(tmp_path: Path) -> None:
    """Python's ssl (the engine's side) takes the files as written."""
    made = issue(["engine.example"])
    files = {name: tmp_path / name for name in ("ca", "srv", "srvkey", "cli", "clikey")}
    for name, data in zip(files, (made.ca.cert, made.server.cert, made.server.key,
                                  made.client.cert, made.client.key), strict=True):  # fmt: skip
        files[name].write_bytes(data)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files["srv"], files["srvkey"])
    server.load_verify_locations(files["ca"])
    server.verify_mode = ssl.CERT_REQUIRED
    client = ssl.create_default_context(cafile=str(files["ca"]))
    client.load_cert_chain(files["cli"], files["clikey"])
    server_in, server_out, client_in, client_out = (ssl.MemoryBIO() for _ in range(4))
    server_side = server.wrap_bio(server_in, server_out, server_side=True)
    client_side = client.wrap_bio(client_in, client_out, server_hostname="engine.example")
    for _ in range(10):
        for side, out, peer_in in ((client_side, client_out, server_in),
                                   (server_side, server_out, client_in)):  # fmt: skip
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
            peer_in.write(out.read())
    client_seen, server_seen = server_side.getpeercert(), client_side.getpeercert()
    assert client_seen is not None and server_seen is not None
    assert client_seen["subject"] == ((("commonName", "client"),),)
    assert server_seen["subject"] == ((("commonName", "engine.example"),),)


def test_issue_refuses_no_days() -> None:
    with pytest.raises(ValueError, match="invalid number of days"):
        issue([], days=0)


def test_the_command_writes_both_sides_and_keeps_what_is_there(tmp_path: Path) -> None:
    runner = CliRunner()
    client = tmp_path / "client"
    made = runner.invoke(certs, ["--dir", str(client), "--host", "10.1.2.3"])
    assert made.exit_code == 0, made.output
    server = client / "server"
    assert {p.name: p.stat().st_mode & 0o777 for p in client.iterdir() if p.is_file()} == {
        "ca.pem": 0o644, "cert.pem": 0o644, "key.pem": 0o600}  # fmt: skip
    assert {p.name: p.stat().st_mode & 0o777 for p in server.iterdir()} == {
        "ca.pem": 0o644, "server-cert.pem": 0o644, "server-key.pem": 0o600}  # fmt: skip
    assert (client / "ca.pem").read_bytes() == (server / "ca.pem").read_bytes()
    assert f"--tlscacert {server / 'ca.pem'}" in made.output
    assert "DOCKER_HOST=tcp://10.1.2.3:2376 DOCKER_TLS_VERIFY=1" in made.output
    before = (client / "key.pem").read_bytes()
    refused = runner.invoke(certs, ["--dir", str(client)])
    assert refused.exit_code == 1
    assert f"{client / 'ca.pem'} already exists; use --force" in refused.output
    assert (client / "key.pem").read_bytes() == before
    forced = runner.invoke(certs, ["--dir", str(client), "--force"])
    assert forced.exit_code == 0, forced.output
    assert (client / "key.pem").read_bytes() != before
    assert not [p for p in client.rglob(".*")]  # no temporary file left


def test_the_command_defaults_to_the_docker_clis_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "config"))
    elsewhere = tmp_path / "engine"
    made = CliRunner().invoke(certs, ["--server-dir", str(elsewhere)])
    assert made.exit_code == 0, made.output
    assert sorted(p.name for p in (tmp_path / "config").iterdir()) == [
        "ca.pem", "cert.pem", "key.pem"]  # fmt: skip
    assert (elsewhere / "server-key.pem").exists()
    assert "DOCKER_CERT_PATH" not in made.output  # the CLI finds them there by itself
    same = CliRunner().invoke(certs, ["--dir", str(tmp_path / "x"), "--server-dir",
                                      str(tmp_path / "x"), "--force"])  # fmt: skip
    assert same.exit_code == 1
    assert "directories of their own" in same.output
