"""The runtime keys of a service (resources and ``deploy``, devices, ulimits, logging,
namespaces, secrets and configs): ``doca compose config`` prints them, and hashes the services,
exactly as the real Compose v2 binary does; and they become the HostConfig Compose sends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from doca.compose.file_objects import injected_tar
from doca.compose.translate_runtime import replicas, runtime_host_config
from tests.support.compose import REAL_COMPOSE

DOCA = [str(Path(sys.executable).parent / "doca")]
REPO = Path(__file__).resolve().parents[2]

RESOURCES = """
services:
  web:
    image: busybox
    scale: 3
    deploy:
      replicas: 3
      resources:
        limits: {cpus: "0.5", memory: 64M, pids: 20}
        reservations: {memory: 32m}
    secrets: [pw, {source: pw, target: /run/x, mode: 0400}]
    configs: [cfg]
    mem_limit: 64M
    cpus: 0.5
    cpu_shares: 512
    tmpfs: [/run/t]
    read_only: true
    shm_size: 1m
    ulimits: {nofile: {soft: 10, hard: 20}, nproc: 50}
    sysctls: {net.ipv4.ip_forward: 1}
    security_opt: [no-new-privileges]
    pids_limit: 20
    dns_search: corp
    dns_opt: [ndots:2]
    group_add: [1234]
    oom_score_adj: 5
    logging: {driver: json-file, options: {max-size: 1m}}
    pull_policy: missing
    network_mode: bridge
    domainname: example.com
    platform: linux/amd64
    devices: ["/dev/null:/dev/nul2:r"]
    mem_reservation: 32m
    ipc: shareable
    pid: host
secrets:
  pw: {file: ./pw.txt}
  unused: {file: ./other.txt}
configs:
  cfg: {content: "hello $$x"}
"""

NAMESPACES = """
services:
  web:
    image: busybox
    deploy:
      replicas: 2
      restart_policy: {condition: on-failure, max_attempts: 3}
      labels: [a=1]
    cpus: 2
    devices: ["/dev/null", "/dev/zero:/dev/z"]
    tmpfs: /run/t:size=1m
    ulimits: {nproc: 50}
    sysctls: ["net.core.somaxconn=1024"]
    secrets: [{source: pw, target: rel, uid: "1", gid: "2", mode: 0444}]
    configs: [{source: cfg, target: /etc/cfg}]
    logging: {driver: none}
    read_only: false
  other:
    image: busybox
    deploy: {replicas: 0}
    network_mode: "service:web"
secrets:
  pw: {environment: PW}
configs:
  cfg: {file: ./c.txt}
"""


def both(directory: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], ...]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "COMPOSE_"))}
    env.update(DOCKER_HOST="unix:///nonexistent", PYTHONPATH=str(REPO))
    return tuple(
        subprocess.run([*tool, "-p", "demo", *args], cwd=directory, capture_output=True,
                       text=True, env=env, timeout=60)
        for tool in ([str(REAL_COMPOSE)], [*DOCA, "compose"])
    )  # fmt: skip


@pytest.mark.parametrize("text", [RESOURCES, NAMESPACES], ids=["resources", "namespaces"])
@pytest.mark.parametrize("args", [(), ("--format", "json"), ("--hash", "*")])
def test_config_and_hash_match_the_real_binary(
    tmp_path: Path, text: str, args: tuple[str, ...]
) -> None:
    (tmp_path / "compose.yaml").write_text(textwrap.dedent(text))
    real, mine = both(tmp_path, "config", *args)
    assert real.returncode == 0, real.stderr
    assert (mine.returncode, mine.stdout) == (0, real.stdout)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("    scale: 3\n", "    scale: 2\n"),
        ("    cpus: 0.5\n", "    cpus: 1.5\n"),
    ],
)
def test_distinct_twins_are_refused_like_compose(tmp_path: Path, edit: str, message: str) -> None:
    (tmp_path / "compose.yaml").write_text(RESOURCES.replace(edit, message))
    real, mine = both(tmp_path, "config")
    assert real.returncode == mine.returncode == 1
    wording = real.stderr.split(": invalid compose project")[0].split(": ", 1)[1]
    assert wording in mine.stderr, (real.stderr, mine.stderr)


def test_resources_become_host_config() -> None:
    service = {
        "deploy": {"replicas": 2, "resources": {"limits": {"cpus": 1.5, "memory": "1024"},
                                                "reservations": {"memory": "512"}}},
        "pids_limit": 7, "shm_size": "2048", "read_only": True, "tmpfs": ["/t:size=1m", "/u"],
        "ulimits": {"nofile": {"soft": 1, "hard": 2}, "nproc": 3},
        "devices": [{"source": "/dev/null", "target": "/dev/n", "permissions": "r"}],
        "logging": {"driver": "json-file", "options": {"max-size": "1m"}},
    }  # fmt: skip
    host = runtime_host_config(service)
    assert host == {
        "NanoCpus": 1_500_000_000, "Memory": 1024, "MemoryReservation": 512, "PidsLimit": 7,
        "ShmSize": 2048, "ReadonlyRootfs": True, "Tmpfs": {"/t": "size=1m", "/u": ""},
        "Ulimits": [{"Name": "nofile", "Soft": 1, "Hard": 2},
                    {"Name": "nproc", "Soft": 3, "Hard": 3}],
        "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n",
                     "CgroupPermissions": "r"}],
        "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}},
    }  # fmt: skip
    assert replicas(service) == 2
    assert replicas({"scale": 0, "deploy": {"replicas": 0}}) == 0
    assert replicas({}) == 1


def test_injected_files_are_a_tar_at_their_targets() -> None:
    import io
    import tarfile

    service = {"secrets": [{"source": "s", "target": "/run/secrets/s", "mode": "0400",
                            "uid": "5"}, {"source": "f", "target": "/run/secrets/f"}]}  # fmt: skip
    definitions = {"s": {"name": "p_s", "environment": "TOKEN"}, "f": {"file": "/x"}}
    data = injected_tar("secrets", service, definitions, {"TOKEN": "t0k"})
    assert data is not None
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        (member,) = archive.getmembers()  # the file-backed secret is a bind mount instead
        content = archive.extractfile(member)
        assert content is not None and content.read() == b"t0k"
    assert (member.name, member.mode, member.uid) == ("run/secrets/s", 0o400, 5)
    with pytest.raises(Exception, match="TOKEN"):
        injected_tar("secrets", service, definitions, {})
    with pytest.raises(Exception, match="read-only service"):
        injected_tar("secrets", {**service, "read_only": True}, definitions, {"TOKEN": "t"})
