"""Clients that are slow, silent or idle cannot hold the engine.

The engine runs with a small header timeout and a longer keep-alive idle timeout: a request
head dribbled a byte a second is cut off at the first, while other clients are answered at
once; a kept-alive connection is closed at the second; an oversized header field is refused;
a listener serves a bounded number of connections. Streams (events, attach) run past both
timeouts: the bounds apply to the wait for a request, never to a request being served.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.reliability.summary import record
from tests.support.engine import (
    DockerCLI,
    EngineProcess,
    UnixHTTPConnection,
    running_engine,
)
from tests.support.testimage import TestImage

pytestmark = pytest.mark.reliability

SECTION = "slow clients"
HEADER_TIMEOUT = 2.0
IDLE_TIMEOUT = 4.0
MAX_CONNECTIONS = 12
SLACK = 1.5  # the engine's timers fire on its loop; the machine may be busy


@pytest.fixture(scope="module")
def engine(test_image: TestImage) -> Iterator[EngineProcess]:
    """This module's engine, with timeouts small enough to watch them fire."""
    with running_engine([
        "--api-header-timeout", str(HEADER_TIMEOUT),
        "--api-idle-timeout", str(IDLE_TIMEOUT),
        "--api-max-connections", str(MAX_CONNECTIONS),
    ]) as process:  # fmt: skip
        yield process


def connect(engine: EngineProcess) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(engine.socket))
    return sock


def closed_by_engine(sock: socket.socket, wait: float) -> bool:
    """Whether the engine closes ``sock`` within ``wait`` seconds (it must not answer)."""
    readable, _, _ = select.select([sock], [], [], wait)
    if not readable:
        return False
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        return True
    assert data == b"", f"the engine answered a request it never got whole: {data[:200]!r}"
    return True


def seconds_until_closed(sock: socket.socket, limit: float) -> float:
    started = time.monotonic()
    assert closed_by_engine(sock, limit), f"still open after {limit}s"
    return time.monotonic() - started


def ping_seconds(engine: EngineProcess) -> float:
    started = time.monotonic()
    assert engine.request("GET", "/_ping", timeout=10).body == b"OK"
    return time.monotonic() - started


def test_a_head_sent_a_byte_a_second_is_cut_off_and_others_are_served(
    engine: EngineProcess,
) -> None:
    head = b"GET /_ping HTTP/1.1\r\nHost: doca\r\nUser-Agent: slowloris\r\n\r\n"
    slowest_ping = 0.0
    with connect(engine) as sock:
        started = time.monotonic()
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            slowest_ping = max(slowest_ping, ping_seconds(engine))
            if closed_by_engine(sock, wait=1.0):
                break
            assert time.monotonic() - started < HEADER_TIMEOUT + SLACK, "never cut off"
        cut_after = time.monotonic() - started
    assert HEADER_TIMEOUT - 0.2 <= cut_after <= HEADER_TIMEOUT + SLACK
    assert slowest_ping < 1.0
    record(
        SECTION,
        "request head at 1 byte/s",
        f"cut off after {cut_after:.1f}s (header timeout {HEADER_TIMEOUT:g}s); "
        f"/_ping meanwhile in {slowest_ping * 1000:.0f} ms at most",
    )


def test_connections_that_send_nothing_are_closed(engine: EngineProcess) -> None:
    sockets = [connect(engine) for _ in range(8)]
    try:
        started = time.monotonic()
        for sock in sockets:
            remaining = HEADER_TIMEOUT + SLACK - (time.monotonic() - started)
            assert closed_by_engine(sock, max(remaining, 0.0))
        closed_after = time.monotonic() - started
    finally:
        for sock in sockets:
            sock.close()
    assert closed_after >= HEADER_TIMEOUT - 0.2
    assert ping_seconds(engine) < 1.0
    record(SECTION, "8 silent connections", f"all closed within {closed_after:.1f}s")


def test_an_oversized_header_is_refused_and_a_large_one_is_not(engine: EngineProcess) -> None:
    # A docker CLI logged in to a few registries sends an X-Registry-Config of some KiB.
    large = engine.request("GET", "/_ping", headers={"X-Registry-Config": "e" * 32 * 1024})
    assert large.status == 200
    conn = UnixHTTPConnection(str(engine.socket), timeout=10)
    try:
        conn.request("GET", "/_ping", headers={"X-Registry-Config": "e" * 100 * 1024})
        status = conn.getresponse().status
    finally:
        conn.close()
    assert status in (400, 431)
    assert ping_seconds(engine) < 1.0
    record(SECTION, "100 KiB header field", f"refused with {status} (32 KiB accepted)")


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(
    engine: EngineProcess,
) -> None:
    conn = UnixHTTPConnection(str(engine.socket), timeout=10)
    try:
        conn.request("GET", "/_ping")
        assert conn.getresponse().read() == b"OK"
        sock = conn.sock
        # Longer than the header timeout: a kept-alive connection is not held to it.
        time.sleep(HEADER_TIMEOUT + 1)
        conn.request("GET", "/_ping")
        assert conn.getresponse().read() == b"OK"
        assert conn.sock is sock  # the same connection, not a new one
        idle = seconds_until_closed(sock, IDLE_TIMEOUT + SLACK)
    finally:
        conn.close()
    assert IDLE_TIMEOUT - 0.2 <= idle <= IDLE_TIMEOUT + SLACK
    record(SECTION, "idle keep-alive connection", f"closed after {idle:.1f}s idle")


def test_the_event_stream_outlives_both_timeouts(engine: EngineProcess) -> None:
    name = "slow-clients-volume"
    filters = json.dumps({"type": ["volume"], "volume": [name]})
    conn = UnixHTTPConnection(str(engine.socket), timeout=30)
    try:
        started = time.monotonic()
        conn.request("GET", f"/events?filters={quote(filters)}")
        time.sleep(HEADER_TIMEOUT + IDLE_TIMEOUT + 1)
        created = engine.request("POST", "/volumes/create", json.dumps({"Name": name}).encode())
        assert created.status == 201, created.body
        event = json.loads(conn.getresponse().readline())
        open_for = time.monotonic() - started
    finally:
        conn.close()
        engine.request("DELETE", f"/volumes/{name}")
    assert (event["Type"], event["Action"], event["Actor"]["ID"]) == ("volume", "create", name)
    record(SECTION, "GET /events stream", f"still delivering after {open_for:.0f}s")


def test_an_attached_container_outlives_both_timeouts(
    docker: DockerCLI, loaded_busybox: TestImage
) -> None:
    seconds = int(HEADER_TIMEOUT + IDLE_TIMEOUT + 1)
    started = time.monotonic()
    out = docker("run", "--rm", "busybox", "sh", "-c", f"sleep {seconds}; echo done").stdout
    assert out == "done\n"
    record(SECTION, "docker run (attach)", f"output after {time.monotonic() - started:.0f}s")


def test_a_listener_serves_a_bounded_number_of_connections(engine: EngineProcess) -> None:
    streams = []
    try:
        for _ in range(MAX_CONNECTIONS):  # whole requests that stay open: no timeout ends them
            conn = UnixHTTPConnection(str(engine.socket), timeout=10)
            conn.request("GET", "/events")
            streams.append(conn)
        with pytest.raises((OSError, http.client.HTTPException)):
            engine.request("GET", "/_ping", timeout=5)
    finally:
        for conn in streams:
            conn.close()
    deadline = time.monotonic() + 5
    while True:  # the engine notices the closed streams on its own time
        with contextlib.suppress(OSError, http.client.HTTPException):
            if engine.request("GET", "/_ping", timeout=5).body == b"OK":
                break
        assert time.monotonic() < deadline, "still refusing after the streams closed"
        time.sleep(0.1)
    record(SECTION, f"{MAX_CONNECTIONS + 1} connections at once", "the one over the cap refused")
