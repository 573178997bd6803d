"""System endpoints through the real docker CLI and raw HTTP: version, info, ping, events,
API version prefixes and the error format."""

from __future__ import annotations

import json
import time

from tests.support.engine import DockerCLI, EngineProcess


def test_docker_version_reports_doca(docker: DockerCLI) -> None:
    out = docker("version", "--format", "{{json .Server}}").stdout
    server = json.loads(out)
    assert server["Platform"]["Name"] == "Doca Engine"
    assert server["ApiVersion"] == "1.47"
    assert server["MinAPIVersion"] == "1.24"
    assert server["Os"] == "linux"


def test_docker_info_shows_engine_data(docker: DockerCLI, engine: EngineProcess) -> None:
    info = json.loads(docker("info", "--format", "{{json .}}").stdout)
    assert info["DockerRootDir"] == str(engine.data_root)
    assert info["OSType"] == "linux"
    assert info["Driver"] == "overlayfs"
    assert info["NCPU"] >= 1
    assert info["MemTotal"] > 0
    assert "crun" in info["Runtimes"] or "runc" in info["Runtimes"]
    text = docker("info").stdout
    assert "Server Version: 0.1.0" in text


def test_ping_answers_get_and_head_with_version_headers(engine: EngineProcess) -> None:
    for method in ("GET", "HEAD"):
        resp = engine.request(method, "/_ping")
        assert resp.status == 200
        assert resp.headers["Api-Version"] == "1.47"
        assert resp.headers["Ostype"] == "linux"
        assert resp.headers["Docker-Experimental"] == "false"
        assert "Builder-Version" in resp.headers
        assert resp.headers["Server"].startswith("Doca/")
    assert engine.request("GET", "/_ping").body == b"OK"
    assert engine.request("HEAD", "/_ping").body == b""


def test_every_supported_version_prefix_answers(engine: EngineProcess) -> None:
    for minor in (24, 30, 41, 47):
        resp = engine.request("GET", f"/v1.{minor}/version")
        assert resp.status == 200, minor
        assert json.loads(resp.body)["ApiVersion"] == "1.47"


def test_too_new_and_too_old_versions_get_dockerds_400(engine: EngineProcess) -> None:
    resp = engine.request("GET", "/v1.99/version")
    assert resp.status == 400
    assert json.loads(resp.body) == {
        "message": "client version 1.99 is too new. Maximum supported API version is 1.47"
    }
    resp = engine.request("GET", "/v1.12/info")
    assert resp.status == 400
    assert "is too old. Minimum supported API version is 1.24" in json.loads(resp.body)["message"]


def test_errors_are_json_messages(engine: EngineProcess) -> None:
    resp = engine.request("GET", "/no/such/route")
    assert resp.status == 404
    assert resp.headers["Content-Type"] == "application/json"
    assert json.loads(resp.body) == {"message": "page not found"}
    resp = engine.request("GET", "/images/json?filters=%7Bnot-json")
    assert resp.status == 400
    assert "invalid filter" in json.loads(resp.body)["message"]
    resp = engine.request("GET", '/images/json?filters={"bogus":["x"]}'.replace('"', "%22"))
    assert resp.status == 400
    assert json.loads(resp.body)["message"] == "invalid filter 'bogus'"


def test_events_since_until_replays_and_filters(docker: DockerCLI, loaded_busybox: object) -> None:
    start = time.time()
    docker("tag", "busybox", "events-test:one")
    docker("rmi", "events-test:one")
    out = docker(
        "system",
        "events",
        "--since",
        f"{start - 1:.9f}",
        "--until",
        f"{time.time() + 0.5:.9f}",
        "--filter",
        "type=image",
        "--format",
        "{{json .}}",
    ).stdout
    events = [json.loads(line) for line in out.splitlines()]
    actions = [(e["Action"], e["Actor"]["Attributes"].get("name")) for e in events]
    assert ("tag", "events-test:one") in actions
    assert ("untag", "events-test:one") in actions
    assert all(e["Type"] == "image" for e in events)
    only_tags = docker(
        "system",
        "events",
        "--since",
        f"{start - 1:.9f}",
        "--until",
        f"{time.time():.9f}",
        "--filter",
        "event=tag",
        "--format",
        "{{.Action}}",
    ).stdout.split()
    assert only_tags and set(only_tags) == {"tag"}


def test_events_stream_live(
    engine: EngineProcess, docker: DockerCLI, loaded_busybox: object
) -> None:
    """A listener without ``until`` sees an event published after it subscribed."""
    import subprocess

    from tests.support.engine import DOCKER

    listener = subprocess.Popen(
        [DOCKER, "events", "--format", "{{.Action}} {{.Actor.Attributes.name}}"],
        env=docker.env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)
        docker("tag", "busybox", "live:1")
        assert listener.stdout is not None
        line = listener.stdout.readline().strip()
        assert line == "tag live:1"
    finally:
        listener.terminate()
        listener.wait(10)
        docker("rmi", "live:1")
