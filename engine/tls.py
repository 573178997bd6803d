"""TLS on the API's tcp listeners: the engine's side as dockerd sets it up, over a
connection that outlives the client's half-close.

``docker run`` and ``docker exec`` close their sending side once stdin ends (at once when there
is none) and go on reading the output: over TLS with a close_notify alert, which TLS 1.3 makes
the end of one direction only. asyncio's own TLS transport takes it (and a bare TCP EOF) for
the end of the whole connection and closes it, output not yet sent included. This one gives
the application protocol ``eof_received`` as asyncio does for plain TCP: attach answers "keep
open" and writes on. It also sends the alert of a failed handshake, so that a client without
a good certificate hears why (asyncio drops it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Iterable
from typing import Any

from engine.config import EngineConfig
from engine.errors import InvalidParameter

# dockerd's server suites for TLS 1.2 (go-connections' defaults); TLS 1.3 has its own.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
READ_SIZE = 256 * 1024

log = logging.getLogger("doca.engine")


def server_ssl_context(config: EngineConfig) -> ssl.SSLContext:
    """The engine's side of TLS as dockerd sets it up: TLS 1.2 or later, ECDHE suites, and
    with ``--tlsverify`` a client certificate signed by ``--tlscacert`` (that CA alone)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols(["http/1.1"])
    cert, key = config.tlscert, config.tlskey
    pair = f'(cert: "{cert}", key: "{key}")'
    for path in (cert, key):
        if not path.is_file():
            raise InvalidParameter(
                f"invalid TLS configuration: could not load X509 key pair {pair}: "
                f"open {path}: no such file or directory"
            )
    try:
        # A password callback that gives none: an encrypted key fails instead of prompting.
        context.load_cert_chain(cert, key, password=lambda: b"")
    except (OSError, ssl.SSLError) as exc:
        raise InvalidParameter(
            "invalid TLS configuration: error reading X509 key pair - make sure the key is not "
            f"encrypted {pair}: {exc}"
        ) from exc
    if config.tls_verify:
        ca = config.tlscacert
        context.verify_mode = ssl.CERT_REQUIRED
        try:
            context.load_verify_locations(cafile=ca)
        except FileNotFoundError as exc:
            raise InvalidParameter(
                f'invalid TLS configuration: could not read CA certificate "{ca}": '
                f"open {ca}: no such file or directory"
            ) from exc
        except (OSError, ssl.SSLError) as exc:
            raise InvalidParameter(
                f'invalid TLS configuration: failed to append certificates from PEM file: "{ca}"'
            ) from exc
    return context


class _Connection(asyncio.Protocol):
    """The TCP side of one TLS connection: records in, records out, through ``ssl.SSLObject``."""

    def __init__(self, app: asyncio.BaseProtocol, context: ssl.SSLContext, timeout: float):
        self.app = app
        self.context = context
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._handshake_timeout = timeout
        self.raw: asyncio.Transport | None = None
        self._app_transport: _Transport | None = None  # once the handshake is done
        self._timer: asyncio.TimerHandle | None = None
        self.closing = False
        self.reading_paused = False
        self._eof = False  # the client closed its sending side

    # The TCP transport's calls

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.raw = transport
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._handshake_timeout, self._handshake_expired)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self._incoming.write(data)
        if self._app_transport is None and not self._handshake():
            return
        self._deliver()

    def eof_received(self) -> bool | None:
        if self._app_transport is None:
            return None  # no session yet: close
        self._deliver()  # what came before the EOF
        self._client_closed()
        return True  # closed by ``close`` when the application is done

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self.closing = True
        self.raw = None
        if self._app_transport is not None:
            self.app.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._app_transport is not None:
            self.app.pause_writing()

    def resume_writing(self) -> None:
        if self._app_transport is not None:
            self.app.resume_writing()

    # The application transport's calls

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closing or not data:
            return
        try:
            self.tls.write(data)
        except ssl.SSLError as exc:
            log.debug("TLS write to %s failed: %s", self._peer(), exc)
            self.abort()
            return
        self._flush()

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        self._cancel_timer()
        if self._app_transport is not None:
            # Send close_notify; the client's own is not waited for, as Go does not either.
            with contextlib.suppress(ssl.SSLError):
                self.tls.unwrap()
            self._flush()
        if self.raw is not None:
            self.raw.close()

    def abort(self) -> None:
        self.closing = True
        if self.raw is not None:
            self.raw.abort()

    def pause_reading(self) -> None:
        self.reading_paused = True
        if self.raw is not None and not self.raw.is_closing():
            self.raw.pause_reading()

    def resume_reading(self) -> None:
        self.reading_paused = False
        if self.raw is not None and not self.raw.is_closing():
            self.raw.resume_reading()
        # Records received while paused wait in the TLS buffer: hand them over from the
        # loop, not from inside the application's own call.
        asyncio.get_running_loop().call_soon(self._deliver)

    # Inside

    def _handshake(self) -> bool:
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return False
        except ssl.SSLError as exc:
            # Worded as Go's http server logs it for dockerd.
            log.info("http: TLS handshake error from %s: %s", self._peer(), exc)
            self._flush()  # the alert that tells the client why
            self.closing = True
            if self.raw is not None:
                self.raw.close()
            return False
        self._cancel_timer()
        self._flush()
        self._app_transport = _Transport(self)
        self.app.connection_made(self._app_transport)
        return True

    def _deliver(self) -> None:
        """Hand the application what the client sent."""
        if self.reading_paused or self._eof or self._app_transport is None or self.raw is None:
            return
        chunks = []
        closed = False
        try:
            while chunk := self.tls.read(READ_SIZE):
                chunks.append(chunk)
            closed = True  # an empty read is the client's close_notify
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as exc:
            log.debug("TLS read from %s failed: %s", self._peer(), exc)
            self.abort()
            return
        self._flush()
        if chunks and isinstance(self.app, asyncio.Protocol):
            self.app.data_received(b"".join(chunks))
        if closed:
            self._client_closed()

    def _client_closed(self) -> None:
        if self._eof or self.closing:
            return
        self._eof = True
        app = self.app
        keep_open = isinstance(app, asyncio.Protocol) and app.eof_received()
        if not keep_open:
            self.close()

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data and self.raw is not None and not self.raw.is_closing():
            self.raw.write(data)

    def _handshake_expired(self) -> None:
        self._timer = None
        if self._app_transport is None:
            log.debug("TLS handshake with %s timed out", self._peer())
            self.abort()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _peer(self) -> str:
        peer = self.raw.get_extra_info("peername") if self.raw is not None else None
        if isinstance(peer, tuple) and len(peer) >= 2:
            host = f"[{peer[0]}]" if ":" in str(peer[0]) else peer[0]
            return f"{host}:{peer[1]}"
        return str(peer)


class _Transport(asyncio.Transport):
    """What the application sees of a TLS connection: its plaintext."""

    def __init__(self, connection: _Connection) -> None:
        super().__init__()
        self._conn = connection

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        conn = self._conn
        if name == "sslcontext":
            return conn.context
        if name == "ssl_object":
            return conn.tls
        if name == "peercert":
            return conn.tls.getpeercert()
        if name == "cipher":
            return conn.tls.cipher()
        return conn.raw.get_extra_info(name, default) if conn.raw is not None else default

    def is_closing(self) -> bool:
        return self._conn.closing

    def close(self) -> None:
        self._conn.close()

    def abort(self) -> None:
        self._conn.abort()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._conn.app = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._conn.app

    def is_reading(self) -> bool:
        return not self._conn.reading_paused

    def pause_reading(self) -> None:
        self._conn.pause_reading()

    def resume_reading(self) -> None:
        self._conn.resume_reading()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._conn.write(data)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self._conn.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        raw = self._conn.raw
        return raw.get_write_buffer_size() if raw is not None else 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self._conn.raw is not None:
            self._conn.raw.set_write_buffer_limits(high, low)


def tls_protocol(
    factory: Callable[[], asyncio.BaseProtocol], context: ssl.SSLContext, handshake_timeout: float
) -> Callable[[], asyncio.Protocol]:
    """A protocol factory for a listener opened without ``ssl=``: ``factory``'s protocols
    behind TLS, each handshake bounded by ``handshake_timeout`` seconds."""
    return lambda: _Connection(factory(), context, handshake_timeout)
