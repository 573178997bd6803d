"""Networks driven by the real docker CLI: user-defined bridges with DNS between containers,
the default bridge, published ports reached from the host's loopback, connect/disconnect, and
dockerd's refusals. Traffic goes only to loopback or into the engine's own namespaces."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import DockerCLI, EngineProcess, free_port
from tests.support.testimage import TestImage

pytestmark = pytest.mark.usefixtures("loaded_busybox")

# A resolver address on loopback where nothing listens: names that are not the engine's own fail
# at once instead of going to the host's resolvers (tests send nothing off the machine).
NO_UPSTREAM = "127.0.0.202"

HTTPD = ["sh", "-c", "mkdir -p /www && echo hello-$(hostname) > /www/index.html && "
         "exec httpd -f -p 80 -h /www"]  # fmt: skip


def inspect(docker: DockerCLI, *args: str) -> Any:
    return json.loads(docker(*args).stdout)[0]


def fetch(url: str, attempts: int = 50) -> str:
    """GET with a bounded retry while the server in the container comes up."""
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def bridge_ports(engine: EngineProcess) -> set[str]:
    """The links plugged into the engine's default bridge (other sessions' links are not)."""
    return set(os.listdir(f"/sys/class/net/{engine.bridge}/brif"))


@pytest.fixture
def cleanup(docker: DockerCLI) -> Iterator[list[str]]:
    """Names of containers and networks a test made, removed afterwards whatever happens."""
    made: list[str] = []
    yield made
    containers = [m for m in made if not m.startswith("net:")]
    if containers:
        docker("rm", "-f", *containers, check=False)
    for item in made:
        if item.startswith("net:"):
            docker("network", "rm", item[4:], check=False)


def test_predefined_networks_are_listed(docker: DockerCLI, engine: EngineProcess) -> None:
    rows = docker("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}").stdout
    assert set(rows.splitlines()) == {"bridge bridge local", "host host local", "none null local"}
    bridge = inspect(docker, "network", "inspect", "bridge")
    assert bridge["Options"]["com.docker.network.bridge.name"] == engine.bridge
    assert bridge["Options"]["com.docker.network.bridge.default_bridge"] == "true"
    subnet = bridge["IPAM"]["Config"][0]["Subnet"]
    gateway = bridge["IPAM"]["Config"][0]["Gateway"]
    addresses = Path(f"/sys/class/net/{engine.bridge}").exists()
    assert addresses, "the default bridge exists on the host"
    assert gateway.rsplit(".", 1)[0] in subnet


def test_containers_on_a_user_network_find_each_other_by_name(
    docker: DockerCLI, cleanup: list[str]
) -> None:
    cleanup += ["net:app", "web", "client"]
    docker("network", "create", "app")
    docker("run", "-d", "--name", "web", "--network", "app", "--network-alias", "www",
           "busybox", *HTTPD)  # fmt: skip
    docker("run", "-d", "--name", "client", "--network", "app", "--dns", NO_UPSTREAM,
           "busybox", "sleep", "300")  # fmt: skip

    ping = docker("exec", "client", "ping", "-c", "1", "-W", "2", "web")
    assert "1 packets received" in ping.stdout
    for name in ("web", "www"):
        page = docker("exec", "client", "wget", "-qO-", f"http://{name}:80/")
        assert page.stdout.startswith("hello-")

    web = inspect(docker, "inspect", "web")
    endpoint = web["NetworkSettings"]["Networks"]["app"]
    assert endpoint["IPAddress"] and endpoint["Gateway"] and endpoint["EndpointID"]
    assert "www" in endpoint["Aliases"] and "web" in endpoint["DNSNames"]
    resolv = docker("exec", "client", "cat", "/etc/resolv.conf").stdout
    assert "nameserver 127.0.0.11" in resolv
    hosts = docker("exec", "web", "cat", "/etc/hosts").stdout
    assert f"{endpoint['IPAddress']}\t" in hosts

    network = inspect(docker, "network", "inspect", "app")
    assert {c["Name"] for c in network["Containers"].values()} == {"web", "client"}
    assert network["Containers"][web["Id"]]["IPv4Address"].startswith(endpoint["IPAddress"] + "/")


def test_the_default_bridge_has_no_dns(docker: DockerCLI, cleanup: list[str]) -> None:
    cleanup += ["plain1", "plain2"]
    docker("run", "-d", "--name", "plain1", "--dns", NO_UPSTREAM, "busybox", "sleep", "300")
    docker("run", "-d", "--name", "plain2", "busybox", "sleep", "300")
    one = inspect(docker, "inspect", "plain1")["NetworkSettings"]
    two = inspect(docker, "inspect", "plain2")["NetworkSettings"]
    assert one["IPAddress"] and one["Networks"]["bridge"]["IPAddress"] == one["IPAddress"]
    assert one["IPAddress"] != two["IPAddress"]
    assert (
        "1 packets received"
        in docker("exec", "plain1", "ping", "-c", "1", "-W", "2", two["IPAddress"]).stdout
    )
    lookup = docker("exec", "plain1", "nslookup", "plain2", check=False)
    assert lookup.returncode != 0
    assert "127.0.0.11" not in docker("exec", "plain1", "cat", "/etc/resolv.conf").stdout


def test_published_port_on_loopback(docker: DockerCLI, cleanup: list[str]) -> None:
    cleanup += ["published", "random"]
    port = free_port()
    docker("run", "-d", "--name", "published", "-p", f"127.0.0.1:{port}:80", "busybox", *HTTPD)
    assert fetch(f"http://127.0.0.1:{port}/").startswith("hello-")
    assert docker("port", "published").stdout == f"80/tcp -> 127.0.0.1:{port}\n"

    docker("run", "-d", "--name", "random", "-p", "127.0.0.1::80", "busybox", *HTTPD)
    printed = docker("port", "random", "80").stdout.strip()
    host, _, chosen = printed.rpartition(":")
    assert host == "127.0.0.1" and int(chosen) > 0
    assert fetch(f"http://127.0.0.1:{chosen}/").startswith("hello-")
    ports = inspect(docker, "inspect", "random")["NetworkSettings"]["Ports"]
    assert ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": chosen}]}
    rows = docker("ps", "--filter", "name=random", "--format", "{{.Ports}}").stdout.strip()
    assert rows == f"127.0.0.1:{chosen}->80/tcp"


def test_a_port_in_use_fails_the_start_and_leaves_nothing(
    docker: DockerCLI, engine: EngineProcess, cleanup: list[str]
) -> None:
    cleanup.append("clash")
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    links_before = bridge_ports(engine)
    try:
        result = docker("run", "-d", "--name", "clash", "-p", f"127.0.0.1:{port}:80",
                        "busybox", "sleep", "300", check=False)  # fmt: skip
    finally:
        holder.close()
    assert result.returncode == 125
    assert "address already in use" in result.stderr
    state = inspect(docker, "inspect", "clash")["State"]
    assert not state["Running"]
    assert bridge_ports(engine) == links_before
    assert not any((engine.exec_root / "netns").iterdir())


def test_teardown_after_stop_and_rm(
    docker: DockerCLI, engine: EngineProcess, cleanup: list[str]
) -> None:
    cleanup.append("brief")
    before = bridge_ports(engine)
    since = time.time()
    docker("run", "-d", "--name", "brief", "-p", "127.0.0.1::80", "busybox", "sleep", "300")
    added = bridge_ports(engine) - before
    assert len(added) == 1 and os.path.exists(f"/sys/class/net/{added.pop()}")  # its veth
    docker("stop", "-t", "0", "brief")
    assert bridge_ports(engine) == before
    assert not any((engine.exec_root / "netns").iterdir())
    assert inspect(docker, "inspect", "brief")["NetworkSettings"]["Ports"] == {}
    brief = inspect(docker, "inspect", "brief")["Id"]
    events = docker(
        "events", "--since", f"{since - 1:.3f}", "--until", f"{time.time():.3f}",
        "--filter", "type=network",
        "--format", "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}",
    ).stdout.split("\n")  # fmt: skip
    mine = [e.rsplit(" ", 1)[0] for e in events if e.endswith(brief)]
    assert mine == ["connect bridge", "disconnect bridge"]
    docker("rm", "brief")


def test_connect_and_disconnect_a_running_container(docker: DockerCLI, cleanup: list[str]) -> None:
    cleanup += ["net:front", "net:back", "hopper", "target"]
    docker("network", "create", "front")
    docker("network", "create", "--subnet", "10.213.7.0/24", "back")
    docker("run", "-d", "--name", "hopper", "--network", "front", "--dns", NO_UPSTREAM,
           "busybox", "sleep", "300")  # fmt: skip
    docker("run", "-d", "--name", "target", "--network", "back", "--ip", "10.213.7.50",
           "--dns", NO_UPSTREAM, "busybox", "sleep", "300")  # fmt: skip
    assert (
        inspect(docker, "inspect", "target")["NetworkSettings"]["Networks"]["back"]["IPAddress"]
        == "10.213.7.50"
    )
    assert docker("exec", "hopper", "nslookup", "target", check=False).returncode != 0

    docker("network", "connect", "--alias", "hop", "back", "hopper")
    networks = inspect(docker, "inspect", "hopper")["NetworkSettings"]["Networks"]
    assert set(networks) == {"front", "back"}
    assert networks["back"]["IPAddress"].startswith("10.213.7.")
    assert "eth1" in docker("exec", "hopper", "cat", "/proc/net/dev").stdout
    assert (
        "1 packets received"
        in docker("exec", "hopper", "ping", "-c", "1", "-W", "2", "target").stdout
    )
    assert "10.213.7." in docker("exec", "target", "nslookup", "hop").stdout

    docker("network", "disconnect", "back", "hopper")
    assert set(inspect(docker, "inspect", "hopper")["NetworkSettings"]["Networks"]) == {"front"}
    assert "eth1" not in docker("exec", "hopper", "cat", "/proc/net/dev").stdout


def test_refusals_match_dockerd(docker: DockerCLI, cleanup: list[str]) -> None:
    cleanup += ["net:taken", "net:busy", "busy-user", "wrong-ip"]
    docker("network", "create", "--subnet", "10.214.0.0/16", "taken")

    overlap = docker("network", "create", "--subnet", "10.214.3.0/24", "clash", check=False)
    assert overlap.returncode == 1
    assert "Pool overlaps with other one on this address space" in overlap.stderr

    again = docker("network", "create", "taken", check=False)
    assert "network with name taken already exists" in again.stderr

    missing = docker("run", "--rm", "--network", "nope", "busybox", "true", check=False)
    assert missing.returncode == 125 and "network nope not found" in missing.stderr

    outside = docker("run", "--name", "wrong-ip", "--network", "taken", "--ip", "10.99.0.5",
                     "busybox", "true", check=False)  # fmt: skip
    assert outside.returncode == 125
    assert "10.99.0.5" in outside.stderr and "subnet" in outside.stderr.lower()

    on_default = docker("run", "--rm", "--ip", "172.17.0.9", "busybox", "true", check=False)
    assert on_default.returncode == 125
    assert "user specified IP address is supported" in on_default.stderr

    assert "pre-defined network" in docker("network", "rm", "host", check=False).stderr

    docker("network", "create", "busy")
    docker("run", "-d", "--name", "busy-user", "--network", "busy", "busybox", "sleep", "300")
    in_use = docker("network", "rm", "busy", check=False)
    assert in_use.returncode == 1 and "has active endpoints" in in_use.stderr
    assert "network ghost not found" in docker("network", "inspect", "ghost", check=False).stderr


def test_prune_keeps_networks_in_use(docker: DockerCLI, cleanup: list[str]) -> None:
    cleanup += ["net:idle", "net:used", "user"]
    docker("network", "create", "--label", "kind=test", "idle")
    docker("network", "create", "used")
    docker("run", "-d", "--name", "user", "--network", "used", "busybox", "sleep", "300")
    result = docker("network", "prune", "-f")
    assert "idle" in result.stdout and "used" not in result.stdout
    names = docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert "idle" not in names and "used" in names


def test_engine_restart_keeps_addresses_and_ports(test_image: TestImage, tmp_path: Path) -> None:
    from tests.support.engine import short_root

    process = EngineProcess(short_root())
    process.start()
    docker = DockerCLI(process.host, process.root)
    try:
        docker("load", "-i", str(test_image.save_tar))
        docker("network", "create", "keep")
        port = free_port()
        docker("run", "-d", "--name", "kept", "--network", "keep", "-p", f"127.0.0.1:{port}:80",
               "busybox", *HTTPD)  # fmt: skip
        before = inspect(docker, "inspect", "kept")["NetworkSettings"]["Networks"]["keep"]
        assert fetch(f"http://127.0.0.1:{port}/").startswith("hello-")

        process.stop()
        process.start()

        after = inspect(docker, "inspect", "kept")["NetworkSettings"]["Networks"]["keep"]
        assert after["IPAddress"] == before["IPAddress"]
        assert fetch(f"http://127.0.0.1:{port}/").startswith("hello-")
        docker("run", "-d", "--name", "second", "--network", "keep", "busybox", "sleep", "300")
        second = inspect(docker, "inspect", "second")["NetworkSettings"]["Networks"]["keep"]
        assert second["IPAddress"] != before["IPAddress"]
        assert (
            "1 packets received"
            in docker("exec", "second", "ping", "-c", "1", "-W", "2", "kept").stdout
        )
    finally:
        if process.proc is not None:
            docker("rm", "-f", "kept", "second", check=False)
            docker("network", "rm", "keep", check=False)
        process.stop()
        process.cleanup()


def test_docker_py_networks(engine: EngineProcess, cleanup: list[str]) -> None:
    import docker as docker_py

    cleanup += ["net:pynet", "pyweb", "pyclient"]
    client = docker_py.DockerClient(base_url=engine.host)
    try:
        network = client.networks.create("pynet", labels={"made-by": "docker-py"})
        assert network.attrs["Driver"] == "bridge" and network.attrs["Labels"]["made-by"]
        web = client.containers.run("busybox", HTTPD, name="pyweb", detach=True, network="pynet")
        other = client.containers.run("busybox", ["sleep", "300"], name="pyclient", detach=True)
        network.connect(other, aliases=["peer"])
        network.reload()
        assert {c.name for c in network.containers} == {"pyweb", "pyclient"}
        web.reload()
        address = web.attrs["NetworkSettings"]["Networks"]["pynet"]["IPAddress"]
        exit_code, output = other.exec_run(["wget", "-qO-", f"http://{address}/"])
        assert exit_code == 0 and output.startswith(b"hello-")
        assert client.networks.list(names=["pynet"])[0].id == network.id
        network.disconnect(other)
        exit_code, _ = other.exec_run(["ping", "-c", "1", "-W", "1", address])
        assert exit_code != 0
    finally:
        client.close()


def test_names_not_ours_go_to_the_containers_own_dns_servers(
    docker: DockerCLI, cleanup: list[str]
) -> None:
    """``--dns`` on a user-defined network: the embedded DNS forwards there, from the host."""
    import threading

    from engine.networks import dnswire

    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        upstream.bind(("127.0.0.201", 53))
    except OSError as exc:
        upstream.close()
        pytest.skip(f"cannot bind a fake resolver on 127.0.0.201:53: {exc}")
    upstream.settimeout(0.2)
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            try:
                packet, client = upstream.recvfrom(4096)
            except TimeoutError:
                continue
            query = dnswire.parse_message(packet)
            record = dnswire.a_record(query.questions[0].labels, "192.0.2.77", 60)
            upstream.sendto(dnswire.build_response(query, 0, [record]), client)

    server = threading.Thread(target=answer, daemon=True)
    server.start()
    cleanup += ["net:fwd", "asker"]
    try:
        docker("network", "create", "fwd")
        docker("run", "-d", "--name", "asker", "--network", "fwd", "--dns", "127.0.0.201",
               "busybox", "sleep", "300")  # fmt: skip
        result = docker("exec", "asker", "nslookup", "printer.example")
        assert "192.0.2.77" in result.stdout
        assert "nameserver 127.0.0.11" in docker("exec", "asker", "cat", "/etc/resolv.conf").stdout
    finally:
        stop.set()
        server.join(5)
        upstream.close()


def test_a_renamed_container_answers_to_its_new_name(docker: DockerCLI, cleanup: list[str]) -> None:
    cleanup += ["net:renames", "before", "after", "looker"]
    docker("network", "create", "renames")
    docker("run", "-d", "--name", "before", "--network", "renames", "busybox", "sleep", "300")
    docker("run", "-d", "--name", "looker", "--network", "renames", "--dns", NO_UPSTREAM,
           "busybox", "sleep", "300")  # fmt: skip
    assert docker("exec", "looker", "nslookup", "before").returncode == 0
    docker("rename", "before", "after")
    assert docker("exec", "looker", "nslookup", "after").returncode == 0
    assert docker("exec", "looker", "nslookup", "before", check=False).returncode != 0
    network = inspect(docker, "network", "inspect", "renames")
    assert {c["Name"] for c in network["Containers"].values()} == {"after", "looker"}


def test_ipv6_mac_address_and_internal_networks(docker: DockerCLI, cleanup: list[str]) -> None:
    cleanup += ["net:six", "net:inside", "dual", "walled"]
    docker("network", "create", "--ipv6", "six")
    six = inspect(docker, "network", "inspect", "six")
    subnets = [c["Subnet"] for c in six["IPAM"]["Config"]]
    assert six["EnableIPv6"] and any(":" in s for s in subnets) and any("." in s for s in subnets)
    docker("run", "-d", "--name", "dual", "--network", "six", "--mac-address",
           "02:42:de:ad:be:ef", "busybox", "sleep", "300")  # fmt: skip
    endpoint = inspect(docker, "inspect", "dual")["NetworkSettings"]["Networks"]["six"]
    assert endpoint["GlobalIPv6Address"] and endpoint["IPv6Gateway"]
    assert endpoint["MacAddress"] == "02:42:de:ad:be:ef"
    shown = docker("exec", "dual", "ifconfig", "eth0").stdout
    assert "02:42:DE:AD:BE:EF" in shown and endpoint["GlobalIPv6Address"] in shown
    assert (
        "1 packets received"
        in docker("exec", "dual", "ping6", "-c", "1", "-W", "2", endpoint["IPv6Gateway"]).stdout
    )

    docker("network", "create", "--internal", "inside")
    assert inspect(docker, "network", "inspect", "inside")["Internal"] is True
    docker("run", "-d", "--name", "walled", "--network", "inside", "busybox", "sleep", "300")
    gateway = inspect(docker, "inspect", "walled")["NetworkSettings"]["Networks"]["inside"]
    assert gateway["Gateway"]  # the bridge answers on it; nothing is routed beyond
