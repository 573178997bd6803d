"""Volumes and mounts with the real docker CLI: named, anonymous, bind and tmpfs mounts,
the volume API, and data that outlives containers and the engine."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.support.engine import DockerCLI, EngineProcess

pytestmark = pytest.mark.usefixtures("loaded_busybox")


def volume_names(docker: DockerCLI) -> set[str]:
    return set(docker("volume", "ls", "-q").stdout.split())


def test_named_volume_survives_containers_and_the_engine(
    docker: DockerCLI, engine: EngineProcess
) -> None:
    docker("volume", "create", "--label", "kind=test", "keep")
    docker("run", "--rm", "-v", "keep:/data", "busybox", "sh", "-c", "echo persisted > /data/f")
    engine.stop(signal.SIGKILL)
    engine.start()
    out = docker("run", "--rm", "-v", "keep:/data:ro", "busybox", "sh", "-c",
                 "cat /data/f; touch /data/x 2>&1 || true").stdout  # fmt: skip
    assert out.splitlines() == ["persisted", "touch: /data/x: Read-only file system"]
    data = json.loads(docker("volume", "inspect", "keep").stdout)[0]
    assert data["Driver"] == "local" and data["Labels"] == {"kind": "test"}
    assert Path(data["Mountpoint"], "f").read_text() == "persisted\n"
    assert docker("volume", "ls", "--filter", "label=kind=test", "-q").stdout == "keep\n"


def test_volume_in_use_cannot_be_removed(docker: DockerCLI) -> None:
    docker("volume", "create", "busy-vol")
    cid = docker("run", "-d", "-v", "busy-vol:/v", "busybox", "sleep", "300").stdout.strip()
    result = docker("volume", "rm", "busy-vol", check=False)
    assert result.returncode == 1
    assert f"remove busy-vol: volume is in use - [{cid}]" in result.stderr
    mounts = json.loads(docker("inspect", cid).stdout)[0]["Mounts"]
    assert mounts == [{
        "Type": "volume", "Name": "busy-vol", "Source": mounts[0]["Source"],
        "Destination": "/v", "Driver": "local", "Mode": "", "RW": True, "Propagation": "",
    }]  # fmt: skip
    assert docker("ps", "--filter", "volume=busy-vol", "-q").stdout.strip() == cid[:12]
    docker("rm", "-f", cid)
    docker("volume", "rm", "busy-vol")
    result = docker("volume", "rm", "busy-vol", check=False)
    assert "no such volume" in result.stderr


def test_new_volume_is_filled_from_the_image(docker: DockerCLI) -> None:
    out = docker("run", "--rm", "-v", "etc-copy:/etc", "busybox", "cat", "/etc/passwd").stdout
    assert out.startswith("root:x:0:0:")
    docker("volume", "rm", "etc-copy")


def test_anonymous_volumes_and_rm_v(docker: DockerCLI) -> None:
    before = volume_names(docker)
    docker("run", "--name", "anon", "-v", "/scratch", "busybox", "touch", "/scratch/x")
    mount = json.loads(docker("inspect", "anon").stdout)[0]["Mounts"][0]
    assert mount["Destination"] == "/scratch" and len(mount["Name"]) == 64
    assert mount["Name"] in volume_names(docker)
    docker("rm", "-v", "anon")
    assert volume_names(docker) == before


def test_bind_and_tmpfs_mounts(docker: DockerCLI, tmp_path: Path) -> None:
    host = tmp_path / "shared"
    host.mkdir()
    (host / "in").write_text("from host\n")
    out = docker("run", "--rm", "-v", f"{host}:/h", "busybox", "sh", "-c",
                 "cat /h/in; echo from container > /h/out").stdout  # fmt: skip
    assert out == "from host\n"
    assert (host / "out").read_text() == "from container\n"
    out = docker("run", "--rm", "--mount", f"type=bind,source={host},target=/h,readonly",
                 "busybox", "sh", "-c", "touch /h/x 2>&1 || true").stdout  # fmt: skip
    assert "Read-only file system" in out
    result = docker("run", "--rm", "--mount", "type=bind,source=/no/such/dir,target=/x",
                    "busybox", "true", check=False)  # fmt: skip
    assert "bind source path does not exist: /no/such/dir" in result.stderr
    out = docker("run", "--rm", "--mount", "type=tmpfs,destination=/t,tmpfs-size=1m",
                 "busybox", "grep", " /t ", "/proc/mounts").stdout  # fmt: skip
    assert out.startswith("tmpfs /t tmpfs") and "size=1024k" in out


def test_volumes_from(docker: DockerCLI) -> None:
    docker("run", "--name", "source", "-v", "shared-data:/data", "busybox", "sh", "-c",
           "echo shared > /data/f")  # fmt: skip
    out = docker("run", "--rm", "--volumes-from", "source:ro", "busybox", "sh", "-c",
                 "cat /data/f; touch /data/y 2>&1 || true").stdout  # fmt: skip
    assert out.splitlines() == ["shared", "touch: /data/y: Read-only file system"]
    docker("rm", "source")
    docker("volume", "rm", "shared-data")


def test_prune_and_bad_names(docker: DockerCLI, engine: EngineProcess) -> None:
    docker("volume", "create", "named-unused")
    docker("run", "--name", "a1", "-v", "/a", "busybox", "true")
    docker("rm", "a1")  # leaves the anonymous volume behind
    out = docker("volume", "prune", "-f").stdout
    assert "named-unused" not in out  # named volumes stay unless --all
    assert "named-unused" in volume_names(docker)
    out = docker("volume", "prune", "-af").stdout
    assert "named-unused" in out
    result = docker("volume", "create", "bad/name", check=False)
    assert result.returncode == 1 and "includes invalid characters" in result.stderr
    resp = engine.request("POST", "/volumes/create", b'{"Name": 5}')
    assert resp.status == 400
    resp = engine.request("POST", "/volumes/create", b'{"Driver": "nfs-plugin"}')
    assert resp.status == 404
    assert not os.path.exists(engine.data_root / "volumes" / "bad")


def test_local_driver_tmpfs_option(docker: DockerCLI) -> None:
    docker("volume", "create", "--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
           "--opt", "o=size=2m", "ramvol")  # fmt: skip
    out = docker("run", "--rm", "-v", "ramvol:/r", "busybox", "grep", " /r ", "/proc/mounts").stdout
    assert out.startswith("tmpfs /r tmpfs") and "size=2048k" in out
    options = json.loads(docker("volume", "inspect", "ramvol").stdout)[0]["Options"]
    assert options == {"type": "tmpfs", "device": "tmpfs", "o": "size=2m"}
    docker("volume", "rm", "ramvol")
