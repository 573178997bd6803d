"""``doca-engine --userns-remap``: containers in user namespaces, their root an unprivileged host
UID, driven with the real docker CLI as dockerd's userns-remap is.

The remap user is the numeric UID 65534 (``nobody``), given a range in /etc/subuid and
/etc/subgid for this module only: the files are restored byte for byte afterwards.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import DOCKER, DockerCLI, EngineProcess, running_engine, short_root
from tests.support.testimage import TestImage

REMAP_UID = 65534
HOST_ROOT = 100000  # the host UID and GID of the containers' root
RANGE = 65536
SUBID_FILES = (Path("/etc/subuid"), Path("/etc/subgid"))
REMAP_LINE = f"0 {HOST_ROOT} {RANGE}"


@pytest.fixture(scope="module")
def subids() -> Iterator[None]:
    """A subordinate range for UID 65534, in both files, for as long as the module runs."""
    if os.geteuid() != 0:
        pytest.skip("a real doca-engine needs root")
    saved = {
        path: (path.read_bytes(), os.stat(path)) if path.exists() else None for path in SUBID_FILES
    }
    try:
        for path, before in saved.items():
            lead = "\n" if before and before[0] and not before[0].endswith(b"\n") else ""
            with path.open("a") as file:
                file.write(f"{lead}{REMAP_UID}:{HOST_ROOT}:{RANGE}\n")
        yield
    finally:
        for path, before in saved.items():
            if before is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(before[0])
                os.utime(path, ns=(before[1].st_atime_ns, before[1].st_mtime_ns))


@pytest.fixture(scope="module")
def engine(subids: None, test_image: TestImage) -> Iterator[EngineProcess]:
    # The remapped root must reach the data root below it.
    with running_engine(["--userns-remap", str(REMAP_UID)], root_mode=0o755) as process:
        yield process


@pytest.fixture(scope="module")
def docker(engine: EngineProcess, test_image: TestImage) -> DockerCLI:
    config_dir = engine.root / "docker-config"
    config_dir.mkdir(exist_ok=True)
    cli = DockerCLI(engine.host, config_dir, engine.last_error)
    cli("load", "-i", str(test_image.save_tar))
    return cli


@pytest.fixture
def shared_dir(tmp_path: Path) -> Path:
    """A host directory anyone may write to, to bind into containers."""
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(0o777)
    tmp_path.chmod(0o755)
    return directory


def owner(path: Path) -> tuple[int, int]:
    info = os.lstat(path)
    return info.st_uid, info.st_gid


def tar_owners(data: bytes) -> dict[str, tuple[int, int]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name.rstrip("/"): (m.uid, m.gid) for m in tar.getmembers()}


def docker_bytes(docker: DockerCLI, *args: str) -> bytes:
    result = subprocess.run(
        [DOCKER, *args], capture_output=True, env=docker.env(), timeout=120, check=True
    )
    return result.stdout


def last_layer(docker: DockerCLI, image: str) -> dict[str, tuple[int, int]]:
    """Owners of the entries of an image's top layer, from ``docker save``."""
    with tarfile.open(fileobj=io.BytesIO(docker_bytes(docker, "save", image))) as saved:
        manifest = json.load(saved.extractfile("manifest.json"))  # type: ignore[arg-type]
        layer = saved.extractfile(manifest[0]["Layers"][-1])
        assert layer is not None
        return tar_owners(layer.read())


def test_root_inside_is_an_unprivileged_uid_outside(docker: DockerCLI) -> None:
    out = docker("run", "--rm", "busybox", "sh", "-c", "id; cat /proc/self/uid_map").stdout
    lines = out.splitlines()
    assert lines[0].startswith("uid=0(root) gid=0(root)")
    assert " ".join(lines[1].split()) == REMAP_LINE
    gid_map = docker("run", "--rm", "busybox", "cat", "/proc/self/gid_map").stdout
    assert " ".join(gid_map.split()) == REMAP_LINE


def test_image_files_and_etc_files_belong_to_root_inside(docker: DockerCLI) -> None:
    out = docker(
        "run", "--rm", "busybox", "stat", "-c", "%n %u:%g",
        "/", "/bin/busybox", "/etc/passwd", "/home/app", "/etc/hosts", "/etc/resolv.conf",
    ).stdout  # fmt: skip
    assert out.split("\n")[:-1] == [
        "/ 0:0", "/bin/busybox 0:0", "/etc/passwd 0:0", "/home/app 1000:1000",
        "/etc/hosts 0:0", "/etc/resolv.conf 0:0",
    ]  # fmt: skip


def test_what_the_container_writes_to_a_bind_mount_is_owned_by_the_mapped_uid(
    docker: DockerCLI, shared_dir: Path
) -> None:
    script = "touch /shared/by-root && mkdir /shared/app && chown 1000:1000 /shared/app"
    docker("run", "--rm", "-v", f"{shared_dir}:/shared", "busybox", "sh", "-c", script)
    assert owner(shared_dir / "by-root") == (HOST_ROOT, HOST_ROOT)
    assert owner(shared_dir / "app") == (HOST_ROOT + 1000, HOST_ROOT + 1000)


def test_root_inside_cannot_write_the_hosts_root_files(docker: DockerCLI, tmp_path: Path) -> None:
    """What user namespaces are for: a bind-mounted file of host root stays read-only to the
    container's root, even with every capability; with ``--userns=host`` it is writable."""
    tmp_path.chmod(0o755)
    target = tmp_path / "hosts-file"
    target.write_text("host\n")
    target.chmod(0o644)
    mount = f"{target}:/target"
    denied = docker(
        "run", "--rm", "--cap-add", "ALL", "-v", mount, "busybox", "sh", "-c",
        "echo container >> /target", check=False,
    )  # fmt: skip
    assert denied.returncode != 0
    assert "Permission denied" in denied.stderr
    assert target.read_text() == "host\n"
    docker("run", "--rm", "--userns=host", "-v", mount, "busybox", "sh", "-c",
           "echo container >> /target")  # fmt: skip
    assert target.read_text() == "host\ncontainer\n"


def test_userns_host_is_not_remapped(docker: DockerCLI, shared_dir: Path) -> None:
    out = docker(
        "run", "--rm", "--userns=host", "-v", f"{shared_dir}:/shared", "busybox", "sh", "-c",
        "cat /proc/self/uid_map; touch /shared/host-root",
    ).stdout  # fmt: skip
    assert " ".join(out.split()) == "0 0 4294967295"
    assert owner(shared_dir / "host-root") == (0, 0)


def test_a_named_volume_is_owned_by_the_mapped_root(docker: DockerCLI) -> None:
    docker("volume", "create", "remapped-data")
    try:
        docker("run", "--rm", "-v", "remapped-data:/data", "busybox", "sh", "-c",
               "echo x > /data/file && mkdir /data/app && chown 1000:1000 /data/app")  # fmt: skip
        inside = docker(
            "run", "--rm", "-v", "remapped-data:/data", "busybox",
            "stat", "-c", "%n %u", "/data", "/data/file", "/data/app",
        ).stdout  # fmt: skip
        assert inside.split("\n")[:-1] == ["/data 0", "/data/file 0", "/data/app 1000"]
        mountpoint = Path(docker("volume", "inspect", "-f", "{{.Mountpoint}}",
                                 "remapped-data").stdout.strip())  # fmt: skip
        assert owner(mountpoint) == (HOST_ROOT, HOST_ROOT)
        assert owner(mountpoint / "file") == (HOST_ROOT, HOST_ROOT)
        assert owner(mountpoint / "app") == (HOST_ROOT + 1000, HOST_ROOT + 1000)
    finally:
        docker("volume", "rm", "-f", "remapped-data", check=False)


def test_commit_cp_and_export_carry_container_ids(docker: DockerCLI, tmp_path: Path) -> None:
    script = "echo hi > /made && mkdir -p /owned && chown 1000:1000 /owned && sleep 300"
    docker("run", "-d", "--name", "changed", "busybox", "sh", "-c", script)
    try:
        docker("exec", "changed", "test", "-d", "/owned")
        # Out of the running container: dockerd maps the host IDs back.
        made = tar_owners(docker_bytes(docker, "cp", "changed:/made", "-"))
        assert made == {"made": (0, 0)}
        assert tar_owners(docker_bytes(docker, "cp", "changed:/owned", "-")) == {
            "owned": (1000, 1000)
        }
        # Into it: owned by its root, or with -a by the archive's owners, as it sees them.
        upload = tmp_path / "upload"
        upload.write_text("up\n")
        os.chown(upload, 1000, 1000)
        docker("cp", str(upload), "changed:/plain")
        docker("cp", "-a", str(upload), "changed:/archived")
        seen = docker("exec", "changed", "stat", "-c", "%n %u:%g", "/plain", "/archived").stdout
        assert seen.split("\n")[:-1] == ["/plain 0:0", "/archived 1000:1000"]
        export = tar_owners(docker_bytes(docker, "export", "changed"))
        assert export["made"] == (0, 0) and export["owned"] == (1000, 1000)
        assert export["bin/busybox"] == (0, 0)
        docker("commit", "changed", "remapped-commit:1")
        layer = last_layer(docker, "remapped-commit:1")
        assert layer["made"] == (0, 0)
        assert layer["owned"] == (1000, 1000)
        assert layer["archived"] == (1000, 1000)
        docker("stop", "-t", "0", "changed")
        # A stopped container's files, mounted for the copy, show container IDs too.
        assert tar_owners(docker_bytes(docker, "cp", "changed:/archived", "-")) == {
            "archived": (1000, 1000)
        }
        docker("cp", str(upload), "changed:/while-stopped")
        docker("start", "changed")
        seen = docker("exec", "changed", "stat", "-c", "%u:%g", "/while-stopped").stdout
        assert seen.strip() == "0:0"
    finally:
        docker("rm", "-f", "changed", check=False)
        docker("rmi", "remapped-commit:1", check=False)


def test_a_build_runs_remapped_and_stores_container_ids(docker: DockerCLI, tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("data\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN cat /proc/self/uid_map > /uid_map && mkdir /d && chown 1000:1000 /d\n"
        "COPY --chown=1000:1000 file.txt /d/file.txt\n"
    )
    env = {**docker.env(), "DOCKER_BUILDKIT": "0"}
    subprocess.run(
        [DOCKER, "build", "-q", "-t", "remapped-build:1", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    try:
        # Without a user namespace the files show as stored: with container IDs.
        out = docker("run", "--rm", "--userns=host", "remapped-build:1", "sh", "-c",
                     "cat /uid_map; stat -c '%n %u' /uid_map /d /d/file.txt").stdout  # fmt: skip
        lines = out.splitlines()
        assert " ".join(lines[0].split()) == REMAP_LINE  # the RUN ran remapped
        assert lines[1:] == ["/uid_map 0", "/d 1000", "/d/file.txt 1000"]
    finally:
        docker("rmi", "remapped-build:1", check=False)


def test_exec_joins_the_user_namespace(docker: DockerCLI) -> None:
    docker("run", "-d", "--name", "execd", "busybox", "sleep", "300")
    try:
        out = docker("exec", "execd", "sh", "-c", "id -u; cat /proc/self/uid_map").stdout
        lines = out.splitlines()
        assert lines[0] == "0" and " ".join(lines[1].split()) == REMAP_LINE
    finally:
        docker("rm", "-f", "execd", check=False)


def test_ports_below_1024_can_be_bound(docker: DockerCLI) -> None:
    """dockerd lets a container's root bind them; in a user namespace that needs the sysctl
    the engine sets in the container's network namespace."""
    out = docker("run", "--rm", "busybox", "sh", "-c",
                 "cat /proc/sys/net/ipv4/ip_unprivileged_port_start; "
                 "nc -l -p 80 & sleep 0.3; kill $! && echo bound").stdout  # fmt: skip
    assert out.split() == ["0", "bound"]


def test_classic_escapes_fail(docker: DockerCLI) -> None:
    for script in (
        "echo b > /proc/sysrq-trigger",
        "mount -t tmpfs none /mnt",
        "echo 1 > /proc/sys/kernel/panic",
        "mknod /dev/sda1 b 8 1",
    ):
        result = docker("run", "--rm", "busybox", "sh", "-c", script, check=False)
        assert result.returncode != 0, script


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--privileged", "privileged mode is incompatible with user namespaces.  You must run "
         "the container in the host namespace when running privileged mode"),
        ("--network=host", "cannot share the host's network namespace when user namespaces "
         "are enabled"),
        ("--pid=host", "cannot share the host PID namespace when user namespaces are enabled"),
    ],
)  # fmt: skip
def test_host_namespaces_need_userns_host(docker: DockerCLI, flag: str, message: str) -> None:
    refused = docker("run", "--rm", flag, "busybox", "true", check=False)
    assert refused.returncode == 125
    assert message in refused.stderr
    docker("run", "--rm", "--userns=host", flag, "busybox", "true")


def test_info_lists_userns(docker: DockerCLI) -> None:
    options = json.loads(docker("info", "--format", "{{json .SecurityOptions}}").stdout)
    assert "name=userns" in options


def test_a_running_container_outlives_an_engine_restart(
    docker: DockerCLI, engine: EngineProcess
) -> None:
    docker("run", "-d", "--name", "survivor", "busybox", "sleep", "300")
    try:
        container_id = docker("inspect", "-f", "{{.Id}}", "survivor").stdout.strip()
        engine.stop()
        engine.start()
        uid_map = docker("exec", "survivor", "sh", "-c", "cat /proc/self/uid_map; echo x > /after")
        assert " ".join(uid_map.stdout.split()) == REMAP_LINE
        assert tar_owners(docker_bytes(docker, "cp", "survivor:/after", "-")) == {"after": (0, 0)}
        docker("stop", "-t", "0", "survivor")
        rootfs = f"/containers/{container_id}/merged"
        assert rootfs not in Path("/proc/self/mountinfo").read_text()
        docker("start", "survivor")
        out = docker("exec", "survivor", "stat", "-c", "%u", "/after").stdout
        assert out.strip() == "0"
    finally:
        docker("rm", "-f", "survivor", check=False)


def _start_fails(root: Path, *args: str) -> str:
    """Start an engine that is expected to refuse its configuration; its stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "-H", f"unix://{root}/doca.sock", "--bridge", "none",
         "--data-root", str(root / "data"), "--exec-root", str(root / "exec"), *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    return proc.stderr


def test_the_engine_refuses_a_remap_it_cannot_use(subids: None) -> None:
    root = short_root()
    try:
        os.chmod(root, 0o755)
        assert 'Error during uid lookup for "no-such-remap-user"' in _start_fails(
            root, "--userns-remap", "no-such-remap-user"
        )
        # UID 1 exists but has no ranges.
        assert "error creating ID mappings: no subuid ranges found for user" in _start_fails(
            root, "--userns-remap", "1"
        )
        os.chmod(root, 0o700)
        assert "restricts access to the remapped root uid/gid" in _start_fails(
            root, "--userns-remap", str(REMAP_UID)
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
