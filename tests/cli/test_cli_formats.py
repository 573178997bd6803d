"""``--format`` and the list outputs of `doca` against a real doca-engine, next to the real
docker CLI 28 on the same engine: images, volume ls, network ls, ps, inspect, version, info and
system df must print the same text and exit with the same codes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from doca.cli import ps_format
from doca.client import EngineClient
from tests.support.engine import DOCKER, DockerCLI, EngineProcess
from tests.support.testimage import TestImage

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("loaded_busybox")]

DOCA = Path(sys.executable).with_name("doca")
# Outputs with relative times ("2 seconds ago") may differ for a moment: try again.
ATTEMPTS = 4


def doca(host: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [str(DOCA), "-H", host, *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def outcome(result: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
    return result.returncode, result.stdout, result.stderr


def assert_same(engine: EngineProcess, docker: DockerCLI, *args: str, ordered: bool = True) -> str:
    """doca and docker print the same for ``args``; ``ordered=False`` for lists docker prints
    in Go's random map order (several repositories of one image)."""
    for attempt in range(ATTEMPTS):
        mine = outcome(doca(engine.host, *args))
        theirs = outcome(docker(*args, check=False))
        if not ordered:
            mine = (mine[0], "\n".join(sorted(mine[1].splitlines())), mine[2])
            theirs = (theirs[0], "\n".join(sorted(theirs[1].splitlines())), theirs[2])
        if mine == theirs or attempt == ATTEMPTS - 1:
            break
        time.sleep(1)
    assert mine == theirs, args
    return mine[1]


@pytest.fixture(scope="module")
def scene(engine: EngineProcess, docker: DockerCLI, loaded_busybox: TestImage) -> Iterator[None]:
    """Containers, volumes, networks and tags for the lists to show."""
    docker("tag", "busybox", "fmt-one:1")
    docker("volume", "create", "--label", "tier=db", "fmt-vol")
    docker("network", "create", "--label", "team=x", "fmt-net")
    docker("run", "-d", "--name", "fmt-web", "-l", "app=web", "-l", "com.example.role=front",
           "-p", "127.0.0.1:18080:80", "--expose", "7000", "-v", "fmt-vol:/data",
           "busybox", "sleep", "600")  # fmt: skip
    docker("create", "--name", "fmt-idle", "--network", "fmt-net", "busybox", "true")
    try:
        yield
    finally:
        docker("rm", "-f", "fmt-web", "fmt-idle", check=False)
        docker("network", "rm", "fmt-net", check=False)
        docker("volume", "rm", "fmt-vol", check=False)
        docker("rmi", "fmt-one:1", check=False)


@pytest.mark.usefixtures("scene")
@pytest.mark.parametrize(
    "args",
    [
        ("images",),
        ("images", "-q"),
        ("images", "-a", "--no-trunc"),
        ("images", "--digests"),
        ("images", "--format", "json"),
        ("images", "--format", "table {{.Repository}}\\t{{.ID}}\\t{{.Size}}\\t{{.CreatedAt}}"),
        ("images", "--format", "{{.Repository}}:{{.Tag}} {{.Containers}} {{.VirtualSize}}"),
        ("images", "--format", "raw"),
        ("images", "busybox"),
        ("images", "-f", "reference=fmt-*"),
        ("image", "ls", "nosuch"),
        ("images", "--format", "{{.Nope}}"),
        ("images", "--format", "{{nope}}"),
    ],
)
def test_images_match_docker(engine: EngineProcess, docker: DockerCLI, args: tuple[str]) -> None:
    assert_same(engine, docker, *args, ordered=False)


@pytest.mark.usefixtures("scene")
def test_images_hint_names_doca(engine: EngineProcess, docker: DockerCLI) -> None:
    mine = doca(engine.host, "images", "load")
    theirs = docker("images", "load", check=False)
    assert mine.stdout == theirs.stdout
    assert mine.stderr == theirs.stderr.replace('"docker image load"', '"doca image load"')
    assert 'did you mean "doca image load"?' in mine.stderr


@pytest.mark.usefixtures("scene")
@pytest.mark.parametrize(
    "args",
    [
        ("volume", "ls"),
        ("volume", "ls", "-q"),
        ("volume", "ls", "--format", "json"),
        ("volume", "ls", "--format", 'table {{.Name}}\\t{{.Labels}}\\t{{.Label "tier"}}'),
        ("volume", "ls", "-f", "name=fmt"),
        ("volume", "ls", "--format", "raw"),
        ("volume", "inspect", "fmt-vol"),
        ("volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Labels}}", "fmt-vol", "nosuch"),
        ("network", "ls"),
        ("network", "ls", "--no-trunc", "-q"),
        ("network", "ls", "--format", "{{json .}}"),
        ("network", "ls", "--format", "table {{.Name}}\\t{{.IPv6}}\\t{{.Internal}}\\t{{.Labels}}"),
        ("network", "ls", "-f", "name=fmt"),
        ("network", "inspect", "fmt-net"),
        ("network", "inspect", "-f", "{{.Name}} {{json .Labels}}", "fmt-net", "nosuch"),
    ],
)
def test_volume_and_network_lists_match_docker(
    engine: EngineProcess, docker: DockerCLI, args: tuple[str]
) -> None:
    assert_same(engine, docker, *args)


@pytest.mark.usefixtures("scene")
@pytest.mark.parametrize(
    "args",
    [
        ("inspect", "-f", "{{.Name}} {{.State.Status}} {{.Config.Labels.app}}", "fmt-web"),
        ("inspect", "--format", "{{json .Config.Labels}}", "fmt-web", "busybox", "fmt-vol"),
        ("inspect", "--format", "json", "fmt-idle"),
        ("inspect", "-f", "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}", "fmt-web"),
        ("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.NetworkID}}{{end}}", "fmt-idle"),
        ("inspect", "-f", '{{index .Config.Labels "com.example.role"}}|{{.Config.Cmd}}', "fmt-web"),
        ("inspect", "-f", "{{.Os}} {{.Architecture}} {{.Size}} {{.RepoTags}}", "busybox"),
        ("inspect", "-f", "{{.Nope}}", "fmt-web"),
        ("inspect", "-f", "{{.State.Nope.X}}", "fmt-web", "busybox"),
        ("inspect", "-f", "{{foo}}", "fmt-web"),
        ("inspect", "-f", "{{.Name}}", "fmt-web", "nosuch"),
        ("image", "inspect", "-f", "{{.Id}} {{json .Config.Cmd}}", "busybox", "nosuch"),
        ("image", "inspect", "busybox"),
    ],
)
def test_inspect_formats_match_docker(
    engine: EngineProcess, docker: DockerCLI, args: tuple[str]
) -> None:
    assert_same(engine, docker, *args)


def _containers(host: str) -> list[dict[str, object]]:
    async def listing() -> list[dict[str, object]]:
        async with EngineClient(host) as client:
            return await client.containers.list(all=True)

    return asyncio.run(listing())


@pytest.mark.usefixtures("scene")
@pytest.mark.parametrize(
    "source",
    [
        "",
        "table",
        "json",
        "raw",
        "table {{.ID}}\\t{{.Names}}\\t{{.Ports}}\\t{{.Networks}}\\t{{.Mounts}}",
        '{{.Names}} {{.Label "app"}} {{.Labels}} {{.LocalVolumes}} {{.State}} {{.Command}}',
        "{{json .Ports}} {{.Image}} {{.CreatedAt}} {{.Platform}}",
        'table {{.Names}}\\t{{upper .Status}}\\t{{.Label "com.example.role"}}',
    ],
)
def test_ps_formats_match_docker(engine: EngineProcess, docker: DockerCLI, source: str) -> None:
    """The ps formatter (ContainerContext and the table) on the engine's container list prints
    what `docker ps -a --format` prints."""
    args = ("ps", "-a", *(("--format", source) if source else ()))
    for attempt in range(ATTEMPTS):
        mine = ps_format.render(_containers(engine.host), source)
        theirs = docker(*args).stdout
        if mine == theirs or attempt == ATTEMPTS - 1:
            break
        time.sleep(1)
    assert mine == theirs


@pytest.mark.usefixtures("scene")
@pytest.mark.parametrize(
    "args",
    [
        (),
        ("-a",),
        ("-aq",),
        ("-a", "--no-trunc"),
        ("-n", "1"),
        ("-l", "--format", "{{.Names}}"),
        ("-a", "--filter", "label=app=web", "--format", 'table {{.Names}}\\t{{.Label "app"}}'),
        ("-a", "--filter", "status=created", "-q"),
        ("-a", "--filter", "name=fmt-", "--format", "json"),
        ("-a", "-s", "--format", "table {{.Names}}\\t{{.Size}}"),
        ("-a", "--format", "raw"),
        ("-q", "--format", "{{.Names}}"),
        ("--format", "{{.Nope}}"),
    ],
)
def test_doca_ps_prints_what_docker_ps_prints(
    engine: EngineProcess, docker: DockerCLI, args: tuple[str, ...]
) -> None:
    assert_same(engine, docker, "ps", *args)


def test_a_bad_filter_is_refused_as_docker_refuses_it(
    docker: DockerCLI, engine: EngineProcess
) -> None:
    for command in (("ps",), ("images",)):
        mine = outcome(doca(engine.host, *command, "--filter", "nonsense"))
        theirs = outcome(docker(*command, "--filter", "nonsense", check=False))
        assert mine == (theirs[0], theirs[1], theirs[2].replace("docker ", "doca ")), command


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{foo}}", 'failed to parse template: template: :1: function "foo" not defined'),
        ("{{.Foo}}", 'failed to execute template: template: :1:2: executing "" at <.Foo>: '
                     "can't evaluate field Foo in type *formatter.ContainerContext"),
        ("{{range .Names}}{{end}}", 'failed to execute template: template: :1:8: executing "" '
                                    "at <.Names>: range can't iterate over "),
    ],
)  # fmt: skip
def test_ps_format_errors_match_docker(docker: DockerCLI, source: str, message: str) -> None:
    with pytest.raises(Exception) as error:
        ps_format.wants_size(source, quiet=False)
    assert str(error.value) == message
    assert docker("ps", "--format", source, check=False).stderr == message + "\n"
    assert ps_format.wants_size("{{.ID}} {{.Size}}", quiet=False)
    assert not ps_format.wants_size("{{.ID}} {{.Size}}", quiet=True)


@pytest.mark.usefixtures("scene")
@pytest.mark.parametrize(
    "args",
    [
        ("version", "--format", "{{.Server.Version}} {{.Server.Os}}/{{.Server.Arch}}"),
        ("version", "-f", "{{json .Server}}"),
        ("version", "-f", "{{range .Server.Components}}{{.Name}}: {{.Version}}{{end}}"),
        ("version", "-f", "{{.Client.Context}}|{{.Server.Experimental}}"),
        ("version", "-f", "{{foo}}"),
        ("version", "-f", "{{.Foo}}"),
        ("info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.Images}} {{.Driver}}"),
        ("info", "-f", "{{json .Swarm}} {{.ClientInfo.Context}} {{json .ClientInfo.Plugins}}"),
        ("info", "-f", "{{.Foo}}"),
        ("info", "-f", "{{if}}"),
        ("system", "info", "-f", "{{.NCPU}} {{.MemTotal}} {{.OSType}}"),
    ],
)
def test_version_and_info_formats_match_docker(
    engine: EngineProcess, docker: DockerCLI, args: tuple[str]
) -> None:
    assert_same(engine, docker, *args)


@pytest.mark.usefixtures("scene")
@pytest.mark.parametrize(
    "args",
    [
        ("system", "df"),
        ("system", "df", "-v"),
        ("system", "df", "--format", "json"),
        ("system", "df", "--format", "{{.Type}}: {{.TotalCount}} {{.Active}} {{.Reclaimable}}"),
        ("system", "df", "-v", "--format", "json"),
        ("system", "df", "-v", "--format", "{{range .Volumes}}{{.Name}} {{.Links}}\n{{end}}"),
        ("system", "df", "--format", "raw"),
        ("system", "df", "--format", "{{.Nope}}"),
    ],
)
def test_system_df_matches_docker(
    engine: EngineProcess, docker: DockerCLI, args: tuple[str]
) -> None:
    assert_same(engine, docker, *args)


@pytest.mark.usefixtures("scene")
def test_images_take_their_format_from_config_json(engine: EngineProcess, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"imagesFormat": "table {{.Repository}}\\t{{.Tag}}"}')
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_CONFIG=str(tmp_path), DOCKER_HOST=engine.host)
    for args in (["images"], ["images", "-q"], ["images", "--format", "{{.ID}}"]):
        mine, theirs = (
            subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=60)
            for cli in (str(DOCA), DOCKER)
        )
        assert sorted(mine.stdout.splitlines()) == sorted(theirs.stdout.splitlines()), args
        assert mine.returncode == theirs.returncode == 0
    assert mine.stdout  # the last format, not the configured one
