"""Hostile input against the engine's API, sent as raw HTTP over its unix socket.

Random bodies (JSON of every shape and type, huge numbers, deep nesting, invalid JSON,
non-UTF-8 bytes), query strings and path names go to the endpoints that decode client input.
Every answer must be a 2xx/3xx/4xx, or a 5xx with a clean engine message: a 500 from an
unexpected exception, or any message that reads like Python's exception text, is a failure.
The engine must stay up and write nothing outside its own root. Then the transport's limits:
huge headers, clients that stall mid-request, and archives that claim far more than they hold.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import io
import json
import os
import re
import secrets
import socket
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.summary import record
from tests.support.engine import EngineProcess, Response

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("loaded_busybox")]

SECTION = "fuzz"

# Deterministic examples keep the suite's verdict stable from run to run.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

PYTHON_TEXT = re.compile(
    r"Traceback|File \"|\b[A-Z][A-Za-z]*(Error|Exception)\b|object has no attribute"
    r"|NoneType|not subscriptable|unhashable type|positional argument|codec can't"
)
INTERNAL = "internal error"


# Strategies ----------------------------------------------------------------------------------

HUGE = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from(
    [2**63, 2**64, -(2**63) - 1, 10**30, 1e308, -1e308, 1.5, -1, 0]
)
SCALARS = st.none() | st.booleans() | HUGE | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)


def shaped(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of Docker's keys (each a plausible or a random value) and junk keys."""
    values = {key: strategy | JSON_VALUES for key, strategy in keys.items()}
    return st.fixed_dictionaries({}, optional=values).flatmap(
        lambda known: st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=2).map(
            lambda junk: {**junk, **known}
        )
    )


def encoded(objects: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    # allow_nan: NaN and Infinity make the document invalid JSON, which is wanted too.
    return objects.map(lambda value: json.dumps(value, allow_nan=True).encode())


def deep(depth: int, kind: str) -> bytes:
    opening, closing_ = ("[", "]") if kind == "list" else ('{"a":', "}")
    return (opening * depth + "1" + closing_ * depth).encode()


def mutations(
    base: st.SearchStrategy[dict[str, Any]], keys: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """A valid body from ``base`` with one key set to a plausible or a random value: it gets
    past the first check, so the deeper ones see hostile values too."""
    return st.tuples(base, st.sampled_from(sorted(keys))).flatmap(
        lambda pair: (keys[pair[1]] | JSON_VALUES).map(lambda v: {**pair[0], pair[1]: v})
    )


def bodies(
    keys: dict[str, st.SearchStrategy[Any]], base: st.SearchStrategy[dict[str, Any]]
) -> st.SearchStrategy[bytes]:
    """Request bodies: mutated valid ones, shaped objects, any JSON, broken JSON, raw bytes,
    deep nesting."""
    return st.one_of(
        encoded(mutations(base, keys)),
        encoded(mutations(base, keys)),
        encoded(shaped(keys)),
        encoded(JSON_VALUES),
        st.text(max_size=40).map(str.encode),
        st.binary(max_size=40),
        st.builds(deep, st.integers(1, 100_000), st.sampled_from(["list", "dict"])),
        st.just(b'{"Image": "busy\xff\xfebox", "Name": "\xc3\x28"}'),
        st.just(b""),
    )


TEXTS = st.text(max_size=20)
INTS = HUGE
STR_LISTS = st.lists(TEXTS, max_size=3)
CREATE_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "Image": st.sampled_from(["busybox", "busybox:latest", "", "nosuch:tag", "BusyBox"]),
    "Cmd": STR_LISTS,
    "Entrypoint": STR_LISTS,
    "Env": STR_LISTS,
    "Labels": st.dictionaries(TEXTS, TEXTS, max_size=2),
    "User": TEXTS,
    "WorkingDir": TEXTS,
    "StopSignal": st.sampled_from(["SIGKILL", "SIGNOPE", "99", "-1"]),
    "StopTimeout": INTS,
    "ExposedPorts": st.dictionaries(st.sampled_from(["80/tcp", "x/udp", "70000"]), st.just({})),
    "Tty": st.booleans(),
    "Healthcheck": st.fixed_dictionaries({"Test": STR_LISTS, "Interval": INTS}),
    "HostConfig": shaped(
        {
            "Memory": INTS,
            "MemorySwap": INTS,
            "CpuShares": INTS,
            "NanoCpus": INTS,
            "CpusetCpus": TEXTS,
            "PidsLimit": INTS,
            "ShmSize": INTS,
            "NetworkMode": st.sampled_from(["none", "bridge", "host", "container:x", "nosuch"]),
            "RestartPolicy": st.fixed_dictionaries({"Name": TEXTS, "MaximumRetryCount": INTS}),
            "CapAdd": STR_LISTS,
            "CapDrop": STR_LISTS,
            "SecurityOpt": STR_LISTS,
            "Ulimits": st.lists(st.fixed_dictionaries({"Name": TEXTS, "Soft": INTS}), max_size=2),
            "LogConfig": st.fixed_dictionaries({"Type": TEXTS, "Config": JSON_VALUES}),
            "PortBindings": st.dictionaries(TEXTS, JSON_VALUES, max_size=2),
            "Sysctls": st.dictionaries(TEXTS, TEXTS, max_size=2),
            "Binds": STR_LISTS,  # random text: never a real host path
            "Dns": STR_LISTS,
            "ExtraHosts": STR_LISTS,
        }
    ),
    "NetworkingConfig": st.fixed_dictionaries({"EndpointsConfig": JSON_VALUES}),
}
CREATE_BASE = st.just({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}})
#: Fresh names, so that valid bodies are not all refused as duplicates.
NAMED = st.integers(0, 10**9).map(lambda n: {"Name": f"fz{n}"})
NETWORK_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "Name": TEXTS,
    "Driver": st.sampled_from(["bridge", "null", "host", "overlay", "nosuch", ""]),
    "Internal": st.booleans(),
    "EnableIPv6": st.booleans(),
    "CheckDuplicate": st.booleans(),
    "Labels": st.dictionaries(TEXTS, TEXTS, max_size=2),
    # Only 10.213.0.0/16 and ULA ranges: a subnet the host uses must never get a bridge.
    "IPAM": st.fixed_dictionaries(
        {
            "Config": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "Subnet": st.sampled_from(
                            ["10.213.7.0/24", "10.213.8.0/33", "10.213.300.0/24", "fd3a::/64"]
                        ),
                        "Gateway": st.sampled_from(["10.213.7.1", "10.213.9.1", "nope"]),
                        "IPRange": st.sampled_from(["10.213.7.128/25", "10.213.7.0/16"]),
                    },
                ),
                max_size=2,
            )
        }
    ),
}
VOLUME_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "Name": TEXTS,
    "Driver": st.sampled_from(["local", "nosuch", ""]),
    "DriverOpts": st.dictionaries(TEXTS, TEXTS, max_size=2),
    "Labels": st.dictionaries(TEXTS, TEXTS, max_size=2),
}
UPDATE_KEYS: dict[str, st.SearchStrategy[Any]] = {
    key: INTS
    for key in (
        "Memory",
        "MemorySwap",
        "MemoryReservation",
        "CpuShares",
        "CpuPeriod",
        "CpuQuota",
        "NanoCpus",
        "PidsLimit",
        "BlkioWeight",
    )
} | {
    "CpusetCpus": TEXTS,
    "RestartPolicy": st.fixed_dictionaries({"Name": TEXTS, "MaximumRetryCount": INTS}),
}
EXEC_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "Cmd": STR_LISTS,
    "AttachStdout": st.booleans(),
    "AttachStderr": st.booleans(),
    "Tty": st.booleans(),
    "Env": STR_LISTS,
    "User": TEXTS,
    "WorkingDir": TEXTS,
    "Privileged": st.booleans(),
    "DetachKeys": TEXTS,
    "ConsoleSize": st.lists(INTS, max_size=3),
}
EXEC_BASE = st.just({"Cmd": ["true"], "AttachStdout": True})

#: A query value: text, JSON, or bytes that are not UTF-8, always percent-encoded.
QUERY_VALUES = st.one_of(
    TEXTS,
    encoded(JSON_VALUES),
    encoded(st.dictionaries(st.sampled_from(["status", "label", "name", "id", "x"]), STR_LISTS)),
    st.binary(max_size=12),
)


def query(keys: list[str]) -> st.SearchStrategy[str]:
    def encode(pairs: dict[str, str | bytes]) -> str:
        return "&".join(
            f"{quote(k, safe='')}="
            + (quote_from_bytes(v, safe="") if isinstance(v, bytes) else quote(v, safe=""))
            for k, v in pairs.items()
        )

    known = st.dictionaries(st.sampled_from(keys), QUERY_VALUES, max_size=4)
    raw = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30)
    return known.map(encode) | raw.map(lambda text: text.replace("#", "%23"))


def tar_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


# FROM scratch only: any other base image could send the engine to a registry.
DOCKERFILES = st.sampled_from(
    [
        b"FROM scratch\nCOPY a /a\n",
        b"FROM scratch\nLABEL x=y\nENV A=1\n",
        b"FROM scratch AS one\nFROM scratch\nCOPY --from=one / /\n",
        b"FROM scratch\nCOPY nosuch /\n",
        b"RUN true\n",
        b"FROM scratch\nONBUILD\n",
    ]
) | st.binary(max_size=30)
BUILD_BODIES = st.one_of(
    st.builds(lambda d: tar_of({"Dockerfile": d, "a": b"a"}), DOCKERFILES),
    st.just(tar_of({})),
    st.just(tar_of({"a": b"no dockerfile"})),
    st.binary(max_size=64),
    st.just(b""),
)
BUILD_PARAMS = [
    "t", "dockerfile", "q", "nocache", "rm", "forcerm", "buildargs", "labels", "memory",
    "cpusetcpus", "shmsize", "target", "cachefrom", "extrahosts", "squash", "version",
]  # fmt: skip
NAMES = st.one_of(
    st.text(max_size=30).map(lambda s: quote(s, safe="")),
    st.binary(max_size=16).map(lambda b: quote_from_bytes(b, safe="")),
    st.sampled_from(["busybox", "busybox:latest", "bridge", "none", "..", "%2E%2E", "a/b"]),
)


# Sending and judging -------------------------------------------------------------------------


def decoded(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


#: Failures already reported, told apart so that a fuzz run still fails on anything new.
KNOWN_BUGS: list[Callable[[str, bytes], bool]] = []


def message_of(response: Response) -> str:
    try:
        doc = json.loads(response.body)
    except ValueError:
        return response.body[:300].decode(errors="replace")
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return str(doc["message"])
    return response.body[:300].decode(errors="replace")


@dataclass
class Tally:
    """Cases sent to one endpoint, the failures among them and the clean 5xx answers."""

    endpoint: str
    cases: int = 0
    accepted: int = 0
    failures: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    clean_5xx: list[str] = field(default_factory=list)

    def send(
        self,
        engine: EngineProcess,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float = 20,
    ) -> Response | None:
        self.cases += 1
        shown = f"{method} {path} body={(body or b'')[:600]!r}"
        headers = {"Content-Type": content_type} if body is not None else {}
        try:
            response = engine.request(method, path, body, headers, timeout=timeout)
        except (OSError, http.client.HTTPException) as exc:
            self.failures.append(f"{shown} -> no answer: {exc!r}")
            return None
        message = message_of(response)
        self.accepted += 200 <= response.status < 300
        failed = PYTHON_TEXT.search(message) or (response.status >= 500 and INTERNAL in message)
        if failed and any(bug(path, body or b"") for bug in KNOWN_BUGS):
            self.known.append(f"{shown} -> {response.status} {message}")
        elif failed:
            self.failures.append(f"{shown} -> {response.status} {message}")
        elif not 200 <= response.status < 500:
            self.clean_5xx.append(f"{shown} -> {response.status} {message}")
        return response

    def finish(self, engine: EngineProcess) -> None:
        """Record the row, then fail if the engine went down or anything failed."""
        value = f"{self.cases} cases ({self.accepted} 2xx), {len(self.failures)} failures"
        if self.known:
            value += f", {len(self.known)} known"
        if self.clean_5xx:
            value += f", {len(self.clean_5xx)} clean 5xx"
        record(SECTION, self.endpoint, value)
        assert engine.answers_ping(), f"the engine stopped answering:\n{engine.last_error()}"
        assert not self.failures, "\n".join(self.failures[:20]) + f"\n{engine.last_error()}"


class Leftovers:
    """Objects and files that appear while a test fuzzes: removed, or reported if outside."""

    WATCHED = (Path("/"), Path("/tmp"))

    def __init__(self, engine: EngineProcess) -> None:
        self.engine = engine
        self.objects = self._objects()
        self.host = {d: set(os.listdir(d)) for d in self.WATCHED}
        self.root = set(os.listdir(engine.root))

    def _objects(self) -> dict[str, set[str]]:
        def ids(path: str, key: str) -> set[str]:
            doc = json.loads(self.engine.request("GET", path).body)
            items = doc["Volumes"] or [] if isinstance(doc, dict) else doc
            return {item[key] for item in items}

        return {
            "/containers/{}?force=1&v=1": ids("/containers/json?all=1", "Id"),
            "/networks/{}": ids("/networks", "Id"),
            "/volumes/{}?force=1": ids("/volumes", "Name"),
            "/images/{}?force=1": ids("/images/json?all=1", "Id"),
        }

    def remove_new_objects(self) -> None:
        for pattern, new in self._objects().items():
            for name in new - self.objects[pattern]:
                self.engine.request("DELETE", pattern.format(quote(name, safe="")))

    def written_outside(self, sent: bytes) -> list[str]:
        """New entries in / and /tmp named after something sent, or new in the engine's own
        root. Only those: other processes on the host create files in /tmp all the time."""
        found = []
        for directory, before in self.host.items():
            for name in set(os.listdir(directory)) - before:
                if name.startswith("upload-") or name.encode() in sent:
                    found.append(str(directory / name))
        found += [name for name in set(os.listdir(self.engine.root)) - self.root]
        return found


@pytest.fixture
def leftovers(engine: EngineProcess) -> Iterator[Leftovers]:
    watch = Leftovers(engine)
    yield watch
    watch.remove_new_objects()


@dataclass
class Sent:
    """Everything sent in a test, to tell its files from other processes' files."""

    data: bytearray = field(default_factory=bytearray)

    def __call__(self, *parts: bytes | str) -> None:
        """Keep ``parts``; a str is a (percent-encoded) path or query, kept decoded."""
        for part in parts:
            self.data += unquote_to_bytes(part) if isinstance(part, str) else part


def fuzz_bodies(
    engine: EngineProcess,
    leftovers: Leftovers,
    endpoint: str,
    paths: st.SearchStrategy[str],
    keys: dict[str, st.SearchStrategy[Any]],
    base: st.SearchStrategy[dict[str, Any]],
    max_examples: int,
) -> None:
    """POST random bodies to ``paths``; judge each answer, then the engine and the host."""
    tally, sent = Tally(endpoint), Sent()

    @settings(FUZZ, max_examples=max_examples)
    @given(path=paths, body=bodies(keys, base))
    def case(path: str, body: bytes) -> None:
        sent(path, body)
        tally.send(engine, "POST", path, body)

    case()
    assert leftovers.written_outside(bytes(sent.data)) == []
    tally.finish(engine)


def test_containers_create(engine: EngineProcess, leftovers: Leftovers) -> None:
    paths = st.just("/containers/create") | NAMES.map(lambda n: f"/containers/create?name={n}")
    fuzz_bodies(engine, leftovers, "POST /containers/create", paths, CREATE_KEYS, CREATE_BASE, 300)


def test_create_with_ports_or_volumes_that_are_not_objects(
    engine: EngineProcess, leftovers: Leftovers
) -> None:
    tally = Tally("create ExposedPorts -1")
    for key in ("ExposedPorts", "Volumes"):
        for value in (-1, ["a"], "x"):
            body = json.dumps({"Image": "busybox", key: value}).encode()
            response = tally.send(engine, "POST", "/containers/create", body)
            assert response is not None and INTERNAL not in message_of(response)


def test_networks_create(engine: EngineProcess, leftovers: Leftovers) -> None:
    paths = st.just("/networks/create")
    fuzz_bodies(engine, leftovers, "POST /networks/create", paths, NETWORK_KEYS, NAMED, 120)


def test_volumes_create(engine: EngineProcess, leftovers: Leftovers) -> None:
    paths = st.just("/volumes/create")
    fuzz_bodies(engine, leftovers, "POST /volumes/create", paths, VOLUME_KEYS, NAMED, 150)


@pytest.fixture
def running(engine: EngineProcess) -> Iterator[str]:
    """A running container to update and exec into."""
    body = json.dumps({"Image": "busybox", "Cmd": ["sleep", "600"]}).encode()
    headers = {"Content-Type": "application/json"}
    created = engine.request("POST", "/containers/create", body, headers)
    assert created.status == 201, created.body
    cid = json.loads(created.body)["Id"]
    try:
        assert engine.request("POST", f"/containers/{cid}/start").status == 204
        yield cid
    finally:
        engine.request("DELETE", f"/containers/{cid}?force=1")


def test_containers_update(engine: EngineProcess, leftovers: Leftovers, running: str) -> None:
    paths = st.just(f"/containers/{running}/update")
    fuzz_bodies(
        engine,
        leftovers,
        "POST /containers/{id}/update",
        paths,
        UPDATE_KEYS,
        st.just({"Memory": 64 << 20}),
        200,
    )


def test_exec_create(engine: EngineProcess, leftovers: Leftovers, running: str) -> None:
    paths = st.just(f"/containers/{running}/exec")
    fuzz_bodies(engine, leftovers, "POST /containers/{id}/exec", paths, EXEC_KEYS, EXEC_BASE, 200)


def test_update_with_a_restart_policy_that_is_not_an_object(
    engine: EngineProcess, running: str
) -> None:
    tally = Tally("update RestartPolicy [null]")
    for body in (b'{"RestartPolicy": [null]}', b'{"RestartPolicy": "always"}'):
        response = tally.send(engine, "POST", f"/containers/{running}/update", body)
        assert response is not None and INTERNAL not in message_of(response)


def new_exec(engine: EngineProcess, container: str) -> str:
    body = b'{"Cmd": ["true"], "AttachStdout": true}'
    headers = {"Content-Type": "application/json"}
    created = engine.request("POST", f"/containers/{container}/exec", body, headers)
    return str(json.loads(created.body)["Id"])


def test_exec_start(engine: EngineProcess, leftovers: Leftovers, running: str) -> None:
    tally, sent = Tally("POST /exec/{id}/start"), Sent()
    keys = {"Detach": st.booleans(), "Tty": st.booleans(), "ConsoleSize": st.lists(INTS)}

    @settings(FUZZ, max_examples=40)
    @given(body=bodies(keys, st.just({"Detach": False})))
    def case(body: bytes) -> None:
        sent(body)
        tally.send(engine, "POST", f"/exec/{new_exec(engine, running)}/start", body, timeout=10)

    case()
    assert leftovers.written_outside(bytes(sent.data)) == []
    tally.finish(engine)


def test_exec_start_with_a_body_that_is_not_an_object(engine: EngineProcess, running: str) -> None:
    tally = Tally("exec start [[]]")
    for body in (b"[[]]", b'"x"', b"1"):
        response = tally.send(engine, "POST", f"/exec/{new_exec(engine, running)}/start", body)
        assert response is not None
        assert response.status == 400, message_of(response)


NO_BODY: st.SearchStrategy[bytes | None] = st.none()


def fuzz_queries(
    engine: EngineProcess,
    leftovers: Leftovers,
    method: str,
    path: str,
    params: list[str],
    max_examples: int,
    body: st.SearchStrategy[bytes | None] = NO_BODY,
    content_type: str = "application/json",
) -> None:
    """Send ``path?<random query>``; judge each answer, then the engine and the host."""
    tally, sent = Tally(f"{method} {path}"), Sent()

    @settings(FUZZ, max_examples=max_examples)
    @given(params=query(params), payload=body)
    def case(params: str, payload: bytes | None) -> None:
        sent(params, payload or b"")
        tally.send(engine, method, f"{path}?{params}", payload, content_type, timeout=30)

    case()
    assert leftovers.written_outside(bytes(sent.data)) == []
    tally.finish(engine)


def test_containers_list(engine: EngineProcess, leftovers: Leftovers) -> None:
    params = ["filters", "all", "limit", "size", "since", "before"]
    fuzz_queries(engine, leftovers, "GET", "/containers/json", params, 200)


def test_images_list(engine: EngineProcess, leftovers: Leftovers) -> None:
    params = ["filters", "all", "digests", "shared-size", "manifests"]
    fuzz_queries(engine, leftovers, "GET", "/images/json", params, 200)


def test_build(engine: EngineProcess, leftovers: Leftovers) -> None:
    fuzz_queries(
        engine, leftovers, "POST", "/build", BUILD_PARAMS, 120, BUILD_BODIES, "application/x-tar"
    )


@pytest.mark.parametrize(
    "template",
    ["/containers/{}/json", "/images/{}/json", "/networks/{}", "/volumes/{}", "/exec/{}/json"],
)
def test_names_in_paths(engine: EngineProcess, leftovers: Leftovers, template: str) -> None:
    tally = Tally("GET " + template.format("<x>"))

    @settings(FUZZ, max_examples=100)
    @given(name=NAMES)
    def case(name: str) -> None:
        tally.send(engine, "GET", template.format(name))

    case()
    tally.finish(engine)


def test_create_writes_nothing_on_the_host(engine: EngineProcess, leftovers: Leftovers) -> None:
    missing = Path("/tmp") / f"doca-fuzz-bind-{secrets.token_hex(4)}"
    body = {"Image": "busybox", "HostConfig": {"Binds": [f"{missing}:/x"], "NetworkMode": "none"}}
    headers = {"Content-Type": "application/json"}
    try:
        created = engine.request("POST", "/containers/create", json.dumps(body).encode(), headers)
        assert created.status == 201, created.body
        assert not missing.exists()
    finally:
        with contextlib.suppress(OSError):
            missing.rmdir()


# Bounded resources ---------------------------------------------------------------------------

LIMITS = "limits"


def connect(engine: EngineProcess, timeout: float = 10) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(str(engine.socket))
    return sock


def exchange(engine: EngineProcess, request: bytes) -> bytes:
    """Send ``request`` raw and return what comes back before the engine closes (≤ 10 s)."""
    with closing(connect(engine)) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer:
                    break
        return answer


def status_line(answer: bytes) -> str:
    return answer.split(b"\r\n", 1)[0].decode(errors="replace") or "connection closed"


@pytest.mark.parametrize(
    "shape",
    ["one 1 MB header", "2048 headers of 512 B"],
)
def test_huge_headers_are_refused(engine: EngineProcess, shape: str) -> None:
    if shape.startswith("one"):
        headers = b"X-Big: " + b"a" * (1 << 20) + b"\r\n"
    else:
        headers = b"".join(b"X-H%d: " % i + b"b" * 500 + b"\r\n" for i in range(2048))
    answer = exchange(engine, b"GET /_ping HTTP/1.1\r\nHost: doca\r\n" + headers + b"\r\n")
    line = status_line(answer)
    assert re.match(r"HTTP/1\.[01] 4\d\d ", line) or not answer, line
    assert engine.answers_ping()
    record(LIMITS, shape, line)


#: Requests that stop half way: in the headers, and in the body after complete headers.
STALLED = {
    "half headers": b"GET /containers/json HTTP/1.1\r\nHost: doca\r\nX-Half: ",
    "half body": b"POST /containers/create HTTP/1.1\r\nHost: doca\r\n"
    b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Image": ',
}


def test_slow_clients_do_not_stop_others(engine: EngineProcess) -> None:
    clients = {kind: [connect(engine) for _ in range(10)] for kind in STALLED}
    try:
        for kind, socks in clients.items():
            for sock in socks:
                sock.sendall(STALLED[kind])
        started = time.monotonic()
        for _ in range(10):
            assert engine.request("GET", "/containers/json", timeout=2).status == 200
        served = time.monotonic() - started
        deadline = time.monotonic() + 6
        dropped = dict.fromkeys(STALLED, 0)
        while time.monotonic() < deadline and sum(dropped.values()) < 20:
            dropped = {k: sum(map(closed_by_peer, socks)) for k, socks in clients.items()}
            time.sleep(0.5)
    finally:
        for socks in clients.values():
            for sock in socks:
                sock.close()
    assert engine.answers_ping()
    record(LIMITS, "20 stalled clients", f"others served (10 requests in {served:.2f} s)")
    for kind, count in dropped.items():
        record(LIMITS, f"10 x {kind}", f"{count}/10 dropped within 6 s")


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the engine closed ``sock``, without waiting for it."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def archive_head(layer_size: int) -> bytes:
    """The start of a ``docker save`` tar whose one layer member claims ``layer_size`` bytes;
    the caller sends however little of that layer it likes."""
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}})
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["bomb:1"], "Layers": ["l.tar"]}])
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in (("manifest.json", manifest.encode()), ("config.json", config.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        head = out.getvalue()[: out.tell()]
    layer = tarfile.TarInfo("l.tar")
    layer.size = layer_size  # more than 8 GiB: GNU base-256 size field
    return head + layer.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")


def tree_size(root: Path) -> int:
    """Bytes allocated under ``root``, not descending into mount points."""
    total = 0
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.ismount(os.path.join(directory, d))]
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(directory, name)).st_blocks * 512
    return total


HUNDRED_GB = 100 << 30
ZEROS = gzip.compress(b"\0" * (16 << 20), compresslevel=9)  # 16 MiB in about 16 KiB
BOMBS: dict[str, Callable[[], bytes]] = {
    # a member that claims 100 GB, cut after 1 MiB
    "tar member claiming 100 GB": lambda: archive_head(HUNDRED_GB) + b"\0" * (1 << 20),
    # the same, gzip'd, with 512 MiB of zeros as concatenated gzip members
    "gzip bomb (512 MiB of zeros)": lambda: gzip.compress(archive_head(HUNDRED_GB)) + ZEROS * 32,
    # a complete archive whose layer is gzip'd zeros that expand to 256 MiB
    "layer gzip bomb (256 MiB)": lambda: complete_archive(ZEROS * 16),
}


def complete_archive(layer: bytes) -> bytes:
    padding = b"\0" * (-len(layer) % tarfile.BLOCKSIZE)
    return archive_head(len(layer)) + layer + padding + b"\0" * (2 * tarfile.BLOCKSIZE)


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_archive_bombs_end_in_a_clean_error(engine: EngineProcess, bomb: str) -> None:
    body = BOMBS[bomb]()
    before = tree_size(engine.data_root)
    started = time.monotonic()
    tally = Tally(bomb)
    response = tally.send(engine, "POST", "/images/load", body, "application/x-tar", timeout=60)
    took = time.monotonic() - started
    assert response is not None and not tally.failures, tally.failures
    lines = [json.loads(line) for line in response.body.splitlines() if line.strip()]
    errors = [line["error"] for line in lines if "error" in line]
    error = message_of(response) if response.status >= 400 else (errors or ["no error"])[0]
    assert response.status >= 400 or errors, response.body[-500:]
    assert not PYTHON_TEXT.search(error), error
    grown = tree_size(engine.data_root) - before
    assert grown < 1 << 20, f"the data root grew by {grown} bytes"
    assert list((engine.data_root / "tmp").glob("upload-*")) == []
    assert list((engine.data_root / "content" / "ingest").iterdir()) == []
    assert engine.request("GET", "/images/bomb:1/json").status == 404
    assert engine.answers_ping()
    record(
        LIMITS,
        f"docker load: {bomb} ({len(body) >> 10} KiB sent)",
        f"{response.status} {error[:60]!r} in {took:.1f} s; data root +{grown >> 10} KiB",
    )
