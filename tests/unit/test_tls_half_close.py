"""The engine's TLS connection gives the application a client's half-close, as plain TCP does.

A client that ends its sending side, with a close_notify (docker 28) or by shutting the TCP
socket under TLS (older docker clients), still gets what the application writes after that.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from engine.tls import tls_protocol


class Echo(asyncio.Protocol):
    """Collects what the client sends; on its EOF answers with all of it, then closes."""

    def __init__(self, keep_open: bool) -> None:
        self.keep_open = keep_open
        self.transport: Any = None
        self.received = b""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data

    def eof_received(self) -> bool:
        if not self.keep_open:
            return False
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, self.transport.write, b"after eof: " + self.received)
        loop.call_later(0.1, self.transport.close)
        return True


def server_context(tmp_path: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


def client_exchange(port: int, how: str) -> bytes:
    """Send b"stdin", end the sending side ``how``, read to the end (blocking, in a thread)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:

        def pump() -> bool:
            if pending := outgoing.read():
                sock.sendall(pending)
            data = sock.recv(65536)
            if not data:
                return False
            incoming.write(data)
            return True

        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pump()
        tls.write(b"stdin")
        if how == "close_notify":
            with contextlib.suppress(ssl.SSLWantReadError):
                tls.unwrap()  # sends close_notify; the engine's own comes later
            sock.sendall(outgoing.read())
        else:
            sock.sendall(outgoing.read())
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            try:
                chunk = tls.read(65536)
            except ssl.SSLWantReadError:
                if not pump():
                    return answer
                continue
            except ssl.SSLZeroReturnError:
                return answer
            if not chunk:  # the engine's close_notify
                return answer
            answer += chunk


@pytest.mark.parametrize("how", ["close_notify", "tcp"])
async def test_output_after_the_clients_half_close_arrives(tmp_path: Path, how: str) -> None:
    context = server_context(tmp_path)
    apps: list[Echo] = []

    def app() -> Echo:
        apps.append(Echo(keep_open=True))
        return apps[-1]

    loop = asyncio.get_running_loop()
    server = await loop.create_server(tls_protocol(app, context, 5), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        answer = await asyncio.to_thread(client_exchange, port, how)
    finally:
        server.close()
    assert answer == b"after eof: stdin"


async def test_without_keep_open_the_connection_closes_on_eof(tmp_path: Path) -> None:
    context = server_context(tmp_path)
    loop = asyncio.get_running_loop()
    apps: list[Echo] = []

    def app() -> Echo:
        apps.append(Echo(keep_open=False))
        return apps[-1]

    server = await loop.create_server(tls_protocol(app, context, 5), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        answer = await asyncio.to_thread(client_exchange, port, "close_notify")
    finally:
        server.close()
    assert answer == b""
    assert apps[0].received == b"stdin"
    assert apps[0].transport.is_closing()
