"""engine.runtime.oci_spec: a container's settings → its OCI spec, with dockerd's defaults."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from engine.errors import InvalidParameter
from engine.runtime.capabilities import (
    ALL_CAPABILITIES,
    DEFAULT_CAPABILITIES,
    capabilities_from_mask,
    capability_mask,
)
from engine.runtime.oci_spec import (
    DEFAULT_MASKED_PATHS,
    DEFAULT_PATH_ENV,
    DEFAULT_READONLY_PATHS,
    DeviceMapping,
    Mount,
    SpecInput,
    Ulimit,
    build_spec,
)
from tests.support.testimage import TestImage

DEFAULT_CAP_MASK = 0x00000000A80425FB


def spec(**kwargs: Any) -> dict[str, Any]:
    """build_spec with a minimal SpecInput plus ``kwargs``."""
    kwargs.setdefault("rootfs", "/rootfs")
    kwargs.setdefault("args", ["sh"])
    kwargs.setdefault("env", [])
    return build_spec(SpecInput(**kwargs))


def mounts(s: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["destination"]: m for m in s["mounts"]}


def test_default_spec() -> None:
    s = spec(hostname="abc123")
    caps = s["process"]["capabilities"]
    assert set(caps) == {"bounding", "effective", "permitted"}
    for kind in caps.values():
        assert kind == list(DEFAULT_CAPABILITIES)
    assert len(DEFAULT_CAPABILITIES) == 14
    assert capability_mask(DEFAULT_CAPABILITIES) == DEFAULT_CAP_MASK
    linux = s["linux"]
    assert "/proc/kcore" in linux["maskedPaths"] and "/sys/firmware" in linux["maskedPaths"]
    assert linux["maskedPaths"] == list(DEFAULT_MASKED_PATHS)
    assert linux["readonlyPaths"] == list(DEFAULT_READONLY_PATHS)
    assert [n["type"] for n in linux["namespaces"]] == "mount network uts pid ipc cgroup".split()
    m = mounts(s)
    assert list(m) == "/proc /dev /dev/pts /sys /sys/fs/cgroup /dev/mqueue /dev/shm".split()
    assert m["/dev/pts"]["options"][-4:] == ["newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
    assert "ro" in m["/sys"]["options"] and "ro" in m["/sys/fs/cgroup"]["options"]
    assert m["/dev/shm"]["options"] == ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]
    assert linux["resources"]["devices"][0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in linux[
        "resources"
    ]["devices"]
    assert s["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576}]
    assert s["process"]["env"] == [DEFAULT_PATH_ENV, "HOSTNAME=abc123"]
    assert s["hostname"] == "abc123"
    assert s["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": [0]}
    assert s["process"]["terminal"] is False and s["process"]["oomScoreAdj"] == 0
    assert s["root"] == {"path": "/rootfs"}
    assert linux["sysctl"]["net.ipv4.ip_unprivileged_port_start"] == "0"
    assert "seccomp" in linux and "noNewPrivileges" not in s["process"]


def test_cgroup_v1_has_no_cgroup_namespace_unless_asked() -> None:
    types = [n["type"] for n in spec(cgroup_version="1")["linux"]["namespaces"]]
    assert "cgroup" not in types
    forced = spec(cgroup_version="1", cgroupns=True)["linux"]["namespaces"]
    assert {"type": "cgroup"} in forced
    assert {"type": "cgroup"} not in spec(cgroupns=False)["linux"]["namespaces"]


def test_privileged() -> None:
    s = spec(privileged=True, cap_drop=("ALL",))
    assert s["process"]["capabilities"]["bounding"] == list(ALL_CAPABILITIES)
    assert "maskedPaths" not in s["linux"] and "readonlyPaths" not in s["linux"]
    m = mounts(s)
    assert "ro" not in m["/sys"]["options"] and "ro" not in m["/sys/fs/cgroup"]["options"]
    assert s["linux"]["resources"]["devices"][-1] == {"allow": True, "access": "rwm"}
    assert "seccomp" not in s["linux"]
    held = capabilities_from_mask(0x1FFFEFFFFFF)  # an engine without CAP_SYS_RESOURCE
    limited = spec(privileged=True, engine_caps=tuple(held))["process"]["capabilities"]
    assert "CAP_SYS_RESOURCE" not in limited["bounding"] and len(limited["bounding"]) == 40
    null = DeviceMapping("/dev/null", "/dev/null", type="c", major=1, minor=3)
    assert spec(privileged=True, host_devices=(null,))["linux"]["devices"][0]["path"] == "/dev/null"


def test_readonly_rootfs() -> None:
    s = spec(readonly_rootfs=True, mounts=(Mount("/data", "bind", "/srv", ("rbind",)),))
    assert s["root"] == {"path": "/rootfs", "readonly": True}
    m = mounts(s)
    assert "ro" not in m["/dev/shm"]["options"] and "ro" not in m["/proc"]["options"]
    assert m["/data"]["options"] == ["rbind"]


def test_user_mounts_replace_defaults_and_sort() -> None:
    shm = Mount("/dev/shm", "bind", "/var/lib/doca/shm", ("rbind", "rprivate"))
    hosts = Mount("/etc/hosts", "bind", "/var/lib/doca/hosts", ("rbind", "rprivate"))
    deep = Mount("/a/b/c", "bind", "/x", ("rbind",))
    s = spec(mounts=(deep, shm, hosts))
    m = mounts(s)
    assert m["/dev/shm"]["source"] == "/var/lib/doca/shm"
    assert [d for d in m if d in ("/a/b/c", "/etc/hosts")] == ["/etc/hosts", "/a/b/c"]
    assert "/dev/shm" not in mounts(spec(ipc="none"))
    dev = mounts(spec(mounts=(Mount("/dev", "bind", "/dev", ("rbind",)),)))
    assert "/dev/pts" not in dev and dev["/dev"]["type"] == "bind"
    assert "size=1024" in mounts(spec(shm_size=1024))["/dev/shm"]["options"]


def test_resources() -> None:
    r = spec(
        memory=64 << 20,
        memory_swap=128 << 20,
        memory_reservation=32 << 20,
        nano_cpus=1_500_000_000,
        cpu_shares=512,
        cpuset_cpus="0-1",
        pids_limit=100,
        blkio_weight=300,
        oom_kill_disable=True,
    )["linux"]["resources"]
    assert r["memory"] == {
        "limit": 64 << 20,
        "reservation": 32 << 20,
        "swap": 128 << 20,
        "disableOOMKiller": True,
    }
    assert r["cpu"] == {"shares": 512, "quota": 150000, "period": 100000, "cpus": "0-1"}
    assert r["pids"] == {"limit": 100}
    assert r["blockIO"] == {"weight": 300}
    plain = spec(pids_limit=0)["linux"]["resources"]
    assert "memory" not in plain and "cpu" not in plain and plain["pids"] == {"limit": -1}
    explicit = spec(cpu_quota=50000, cpu_period=200000)["linux"]["resources"]["cpu"]
    assert explicit == {"quota": 50000, "period": 200000}


def test_ulimits_and_devices() -> None:
    s = spec(ulimits=(Ulimit("nofile", 1024, 2048), Ulimit("nproc", 10, 20)))
    assert s["process"]["rlimits"] == [
        {"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 1024},
        {"type": "RLIMIT_NPROC", "hard": 20, "soft": 10},
    ]
    fuse = DeviceMapping("/dev/fuse", "/dev/fuse", "rw", "c", 10, 229)
    s = spec(devices=(fuse,), device_cgroup_rules=("c 42:* rmw",))
    assert s["linux"]["devices"] == [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}
        | {"fileMode": 0o666, "uid": 0, "gid": 0}
    ]
    rules = s["linux"]["resources"]["devices"]
    assert rules[-2:] == [
        {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"},
        {"allow": True, "type": "c", "major": 42, "minor": -1, "access": "rmw"},
    ]
    with pytest.raises(InvalidParameter, match="invalid device cgroup rule format: 'x'"):
        spec(device_cgroup_rules=("x",))


def test_tmpfs_defaults() -> None:
    m = mounts(spec(tmpfs={"/run": "", "/tmp": "rw,exec,size=64m"}))
    assert m["/run"] == {
        "destination": "/run",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["noexec", "nosuid", "nodev", "rprivate"],
    }
    assert m["/tmp"]["options"] == ["nosuid", "nodev", "rprivate", "rw", "exec", "size=64m"]
    with pytest.raises(InvalidParameter, match='invalid tmpfs option "bogus"'):
        spec(tmpfs={"/run": "bogus=1"})


def test_sysctls() -> None:
    allowed = {"net.core.somaxconn": "1024", "kernel.shmmax": "1", "fs.mqueue.msg_max": "20"}
    assert allowed.items() <= spec(sysctls=allowed)["linux"]["sysctl"].items()
    assert spec(domainname="example.org")["linux"]["sysctl"]["kernel.domainname"] == "example.org"
    with pytest.raises(
        InvalidParameter, match=r'^sysctl "kernel\.panic" is not in a separate kernel namespace$'
    ):
        spec(sysctls={"kernel.panic": "1"})
    with pytest.raises(InvalidParameter, match="not allowed in host network namespace"):
        spec(network_ns="host", sysctls={"net.core.somaxconn": "1024"})
    with pytest.raises(InvalidParameter, match="not allowed in the hosts ipc namespace"):
        spec(ipc="host", sysctls={"kernel.sem": "1 2 3 4"})
    assert "sysctl" not in spec(network_ns="host")["linux"]


def test_init() -> None:
    s = spec(args=["sleep", "1"], init_path="/usr/bin/tini-static")
    assert s["process"]["args"] == ["/sbin/docker-init", "--", "sleep", "1"]
    assert mounts(s)["/sbin/docker-init"] == {
        "destination": "/sbin/docker-init",
        "type": "bind",
        "source": "/usr/bin/tini-static",
        "options": ["bind", "ro"],
    }
    assert spec(args=["sh"], init_path="/i", pid_host=True)["process"]["args"] == ["sh"]


def test_namespaces_for_host_and_joined() -> None:
    host = spec(network_ns="host", pid_host=True, ipc="host", uts_host=True, hostname="h")
    assert [n["type"] for n in host["linux"]["namespaces"]] == ["mount", "cgroup"]
    assert "hostname" not in host
    joined = spec(network_ns="/proc/42/ns/net")["linux"]["namespaces"]
    assert {"type": "network", "path": "/proc/42/ns/net"} in joined


def test_env_user_and_process() -> None:
    s = spec(
        env=["PATH=/custom", "FOO=bar", "HOSTNAME"],
        hostname="h",
        tty=True,
        uid=1000,
        gid=1000,
        additional_gids=(5, 1000, 20),
        cwd="/work",
        no_new_privileges=True,
        oom_score_adj=500,
        console_size=(24, 80),
        annotations={"a": "b"},
    )
    p = s["process"]
    assert p["env"] == ["PATH=/custom", "TERM=xterm", "FOO=bar"]
    assert p["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 5, 20]}
    assert p["terminal"] is True and p["cwd"] == "/work" and p["noNewPrivileges"] is True
    assert p["oomScoreAdj"] == 500 and p["consoleSize"] == {"height": 24, "width": 80}
    assert s["annotations"] == {"a": "b"}


def _runtime() -> str | None:
    for name in ("crun", "runc"):
        if shutil.which(name):
            return name
    return None


@pytest.mark.skipif(os.geteuid() != 0 or _runtime() is None, reason="needs root and crun/runc")
def test_runs_under_a_real_runtime(tmp_path: Path, test_image: TestImage) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    subprocess.run(["tar", "-xf", str(test_image.rootfs_tar), "-C", str(rootfs)], check=True)
    v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    s = build_spec(
        SpecInput(
            rootfs=str(rootfs),
            args=["/bin/sh", "-c", "cat /proc/self/status | grep CapEff; id"],
            env=[],
            hostname="doca-test",
            cgroup_version="2" if v2 else "1",
            # Inherit RLIMIT_NOFILE: a sandboxed engine may lack CAP_SYS_RESOURCE to raise it.
            default_ulimits=(),
        )
    )
    (tmp_path / "config.json").write_text(json.dumps(s))
    # crun 1.8 refuses some hybrid cgroup layouts that runc accepts: fall back to runc.
    outputs = []
    for runtime in [r for r in ("crun", "runc") if shutil.which(r)]:
        cid = f"doca-oci-spec-{uuid.uuid4().hex[:12]}"
        try:
            proc = subprocess.run(
                [runtime, "run", "--bundle", str(tmp_path), cid],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=60,
            )
        finally:
            subprocess.run([runtime, "delete", "-f", cid], capture_output=True)
        outputs.append(f"{runtime}: {proc.returncode} {proc.stdout} {proc.stderr}")
        if proc.returncode == 0:
            break
    else:
        pytest.fail("\n".join(outputs))
    assert f"CapEff:\t{DEFAULT_CAP_MASK:016x}" in proc.stdout
    assert "uid=0(root)" in proc.stdout
