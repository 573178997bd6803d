"""`doca context` on the docker CLI's context store: a context either CLI makes is used by the
other, the engine address is resolved in docker's order, and messages match docker's."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from doca.client.context_store import Context, ContextError, ContextStore, endpoint_meta
from doca.client.transport import DEFAULT_HOST, resolve_host
from tests.support.engine import DOCKER, EngineProcess

DOCA = Path(sys.executable).with_name("doca")


def _run(
    argv: list[str], config: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    environ.update(DOCKER_CONFIG=str(config), NO_COLOR="1", **(env or {}))
    return subprocess.run(argv, capture_output=True, text=True, env=environ, timeout=60)


def doca(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return _run([str(DOCA), *args], config, env)


def docker(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return _run([DOCKER, *args], config, env)


def outcome(result: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
    return result.returncode, result.stdout, result.stderr


def current_context(config: Path) -> str | None:
    path = config / "config.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    return data.get("currentContext")


# -- the store and the resolution order, without an engine ----------------------------------------
def test_contexts_live_under_the_sha256_of_their_name(tmp_path: Path) -> None:
    store = ContextStore(tmp_path)
    store.save(Context("foo", {"Description": "d"}, {"docker": endpoint_meta("unix:///x.sock")}))
    digest = hashlib.sha256(b"foo").hexdigest()
    meta = tmp_path / "contexts" / "meta" / digest / "meta.json"
    assert meta.read_text() == (
        '{"Name":"foo","Metadata":{"Description":"d"},'
        '"Endpoints":{"docker":{"Host":"unix:///x.sock","SkipTLSVerify":false}}}'
    )
    assert oct(meta.stat().st_mode & 0o777) == "0o644"
    store.save(Context("c10", {}, {"docker": endpoint_meta("unix:///y")}))
    store.save(Context("c9", {}, {"docker": endpoint_meta("unix:///y")}))
    assert [c.name for c in store.list_contexts()] == ["c9", "c10", "foo"]


def test_engine_address_is_resolved_in_dockers_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert resolve_host() == DEFAULT_HOST
    store = ContextStore()
    for name in ("a", "b"):
        store.save(Context(name, {}, {"docker": endpoint_meta(f"unix:///{name}.sock")}))
    store.set_current_context("a")
    assert resolve_host() == "unix:///a.sock"
    monkeypatch.setenv("DOCKER_CONTEXT", "b")
    assert resolve_host() == "unix:///b.sock"
    monkeypatch.setenv("DOCKER_HOST", "unix:///env.sock")
    assert resolve_host() == "unix:///env.sock"
    assert resolve_host(context="a") == "unix:///a.sock"  # --context beats $DOCKER_HOST
    assert resolve_host(host="unix:///flag.sock") == "unix:///flag.sock"
    with pytest.raises(ContextError, match="cannot specify both --host and --context"):
        resolve_host(host="unix:///flag.sock", context="a")
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONTEXT", "gone")
    with pytest.raises(ContextError) as error:
        resolve_host()
    assert str(error.value).startswith(
        'unable to resolve docker endpoint: context "gone": context not found: open '
    )
    store.set_current_context("default")
    assert "currentContext" not in json.loads((tmp_path / "config.json").read_text())


# -- both CLIs on one store ---------------------------------------------------------------


@pytest.mark.e2e
def test_a_context_doca_creates_is_used_by_docker(engine: EngineProcess, tmp_path: Path) -> None:
    created = doca(tmp_path, "context", "create", "dev", "--docker", f"host={engine.host}",
                   "--description", "doca's engine")  # fmt: skip
    assert outcome(created) == (0, "dev\n", 'Successfully created context "dev"\n')
    listed = [json.loads(line) for line in docker(tmp_path, "context", "ls", "--format", "json")
              .stdout.splitlines()]  # fmt: skip
    assert {"Current": False, "Description": "doca's engine", "DockerEndpoint": engine.host,
            "Error": "", "Name": "dev"} in listed  # fmt: skip
    server = docker(tmp_path, "--context", "dev", "version", "-f", "{{.Server.Platform.Name}}")
    assert outcome(server) == (0, "Doca Engine\n", "")
    # The same context made by docker is the same file.
    docker(tmp_path, "context", "create", "dev2", "--docker", f"host={engine.host}",
           "--description", "doca's engine")  # fmt: skip
    store = ContextStore(tmp_path)
    mine = json.loads((store.meta_path("dev") / "meta.json").read_text())
    theirs = json.loads((store.meta_path("dev2") / "meta.json").read_text())
    assert {**mine, "Name": "dev2"} == theirs
    assert outcome(doca(tmp_path, "context", "inspect", "dev")) == outcome(
        docker(tmp_path, "context", "inspect", "dev")
    )
    used = doca(tmp_path, "context", "use", "dev")
    assert outcome(used) == (0, "dev\n", 'Current context is now "dev"\n')
    assert current_context(tmp_path) == "dev"
    assert docker(tmp_path, "context", "show").stdout == "dev\n"
    assert docker(tmp_path, "info", "-f", "{{.Name}} {{.ServerVersion}}").returncode == 0
    assert doca(tmp_path, "context", "use", "default").stdout == "default\n"
    assert current_context(tmp_path) is None
    assert docker(tmp_path, "context", "show").stdout == "default\n"


@pytest.mark.e2e
def test_a_context_docker_creates_is_used_by_doca(engine: EngineProcess, tmp_path: Path) -> None:
    docker(tmp_path, "context", "create", "box", "--docker", f"host={engine.host}")
    version = ("version", "-f", "{{.Server.Platform.Name}}")
    assert outcome(doca(tmp_path, "--context", "box", *version)) == (0, "Doca Engine\n", "")
    assert doca(tmp_path, *version, DOCKER_CONTEXT="box").stdout == "Doca Engine\n"
    # Without a context, doca looks at its own default socket, not this engine.
    assert doca(tmp_path, "-H", engine.host, "context", "show").stdout == "default\n"
    docker(tmp_path, "context", "use", "box")
    assert doca(tmp_path, "context", "show").stdout == "box\n"
    assert outcome(doca(tmp_path, *version)) == (0, "Doca Engine\n", "")
    for args in (("context", "ls"), ("context", "ls", "--format", "json"), ("context", "ls", "-q"),
                 ("context", "inspect"), ("context", "inspect", "-f", "{{.Endpoints.docker.Host}}"),
                 ("context", "inspect", "box", "nosuch")):  # fmt: skip
        # The default row shows $DOCKER_HOST: the same for both CLIs.
        mine = doca(tmp_path, *args, DOCKER_HOST=engine.host)
        assert outcome(mine) == outcome(docker(tmp_path, *args, DOCKER_HOST=engine.host)), args
    in_use = doca(tmp_path, "context", "rm", "box")
    assert outcome(in_use) == (1, "", 'context "box" is in use, set -f flag to force remove\n')
    assert outcome(doca(tmp_path, "context", "rm", "-f", "box")) == (0, "box\n", "")
    assert current_context(tmp_path) is None
    assert docker(tmp_path, "context", "ls", "-q").stdout == "default\n"


@pytest.mark.e2e
def test_docker_host_overrides_a_context_as_in_docker(
    engine: EngineProcess, tmp_path: Path
) -> None:
    docker(tmp_path, "context", "create", "nowhere", "--docker", "host=unix:///nonexistent.sock")
    docker(tmp_path, "context", "use", "nowhere")
    version = ("version", "-f", "{{.Server.Platform.Name}}")
    assert doca(tmp_path, *version, DOCKER_HOST=engine.host).stdout == "Doca Engine\n"
    assert doca(tmp_path, "-H", engine.host, *version).stdout == "Doca Engine\n"
    args = ("context", "use", "nowhere")
    mine, theirs = (
        doca(tmp_path, *args, DOCKER_HOST="unix:///x"),
        docker(tmp_path, *args, DOCKER_HOST="unix:///x"),
    )
    assert outcome(mine) == outcome(theirs)
    assert "DOCKER_HOST environment variable overrides the active context" in mine.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("context", "use", "nosuch"),
        ("context", "rm", "nosuch"),
        ("context", "rm", "default"),
        ("context", "create", "bad name"),
        ("context", "create", "x1", "--docker", "hst=x"),
        ("context", "create", "x2", "--docker", "host=nope"),
        ("context", "create", "default"),
        ("context", "inspect", "nosuch"),
        ("--context", "nosuch", "images"),
        ("-H", "unix:///x.sock", "--context", "nosuch", "images"),
    ],
)
def test_context_errors_match_docker(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert outcome(doca(tmp_path, *args)) == outcome(docker(tmp_path, *args))


def test_creating_a_context_twice_fails_as_in_docker(tmp_path: Path) -> None:
    first = doca(tmp_path, "context", "create", "twice", "--docker", "host=unix:///t.sock")
    assert first.returncode == 0
    again = ("context", "create", "twice", "--docker", "host=unix:///t.sock")
    assert outcome(doca(tmp_path, *again)) == outcome(docker(tmp_path, *again))
    assert outcome(doca(tmp_path, "context", "rm", "twice")) == (0, "twice\n", "")
