"""The container lifecycle driven by the real docker CLI against a real doca-engine."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from engine.timefmt import parse_rfc3339
from tests.support.engine import DOCKER, DockerCLI, EngineProcess, wait_for

pytestmark = pytest.mark.usefixtures("loaded_busybox")


def state(docker: DockerCLI, name: str) -> dict:
    return json.loads(docker("inspect", "--format", "{{json .State}}", name).stdout)


def test_run_prints_output_and_removes(docker: DockerCLI) -> None:
    result = docker("run", "--rm", "--name", "hi", "busybox", "echo", "hi")
    assert result.stdout == "hi\n"
    assert "hi" not in docker("ps", "-a", "--format", "{{.Names}}").stdout.split()


def test_run_exit_code_and_stderr(docker: DockerCLI) -> None:
    result = docker(
        "run", "--name", "exit3", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3",
        check=False,
    )  # fmt: skip
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    st = state(docker, "exit3")
    assert st["Status"] == "exited" and st["ExitCode"] == 3
    assert parse_rfc3339(st["FinishedAt"]) >= parse_rfc3339(st["StartedAt"]) > 0
    docker("rm", "exit3")


def test_stdin_is_piped(docker: DockerCLI) -> None:
    result = docker("run", "-i", "--rm", "busybox", "cat", input=b"data\nmore\n")
    assert result.stdout == "data\nmore\n"


def test_tty_under_a_pty(docker: DockerCLI) -> None:
    command = "docker run -it --rm busybox sh -c 'tty; stty size; echo done'"
    result = subprocess.run(
        ["script", "-qec", f"stty rows 33 cols 101; {command}", "/dev/null"],
        capture_output=True, text=True, env=docker.env(), timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "/dev/pts/" in result.stdout
    assert "33 101" in result.stdout
    assert "done" in result.stdout


def test_command_not_found_exits_127(docker: DockerCLI) -> None:
    result = docker("run", "--name", "nocmd", "busybox", "nosuchcmd", check=False)
    assert result.returncode == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in result.stderr
    st = state(docker, "nocmd")
    assert st["Status"] == "created" and st["ExitCode"] == 127
    assert "executable file not found" in st["Error"]
    result = docker("run", "--rm", "busybox", "/etc/passwd", check=False)
    assert result.returncode == 126
    docker("rm", "nocmd")


def test_detached_service_logs_exec_and_lifecycle(docker: DockerCLI) -> None:
    cid = docker("run", "-d", "--name", "web", "busybox", "httpd", "-f", "-v").stdout.strip()
    assert len(cid) == 64
    rows = docker("ps", "--format", "{{.ID}} {{.Names}} {{.Status}}").stdout
    assert f"{cid[:12]} web Up" in rows
    top = docker("exec", "web", "ps").stdout
    assert "httpd -f -v" in top
    assert docker("exec", "web", "sh", "-c", "exit 7", check=False).returncode == 7
    assert docker("exec", "-i", "web", "cat", input=b"piped").stdout == "piped"
    assert docker("exec", "-u", "app", "-w", "/tmp", "web", "sh", "-c", "id -u; pwd").stdout == (
        "1000\n/tmp\n"
    )
    result = docker("exec", "web", "nosuch", check=False)
    assert result.returncode == 127
    assert "executable file not found" in result.stdout + result.stderr

    docker("pause", "web")
    assert state(docker, "web")["Status"] == "paused"
    assert "(Paused)" in docker("ps", "--filter", "name=web", "--format", "{{.Status}}").stdout
    assert docker("exec", "web", "true", check=False).returncode != 0
    docker("unpause", "web")
    assert state(docker, "web")["Status"] == "running"

    docker("stop", "-t", "1", "web")
    st = state(docker, "web")
    assert st["Status"] == "exited" and st["ExitCode"] == 137  # PID 1 ignores SIGTERM
    docker("start", "web")
    first_pid = state(docker, "web")["Pid"]
    docker("restart", "-t", "0", "web")
    st = state(docker, "web")
    assert st["Running"] and st["Pid"] != first_pid
    docker("kill", "--signal", "SIGKILL", "web")
    wait_for(lambda: state(docker, "web")["Status"] == "exited", timeout=15)
    docker("start", "web")
    result = docker("rm", "web", check=False)
    assert result.returncode == 1
    assert "Stop the container before attempting removal or force remove" in result.stderr
    docker("rm", "-f", "web")
    assert docker("ps", "-aq", "--filter", "name=web").stdout == ""


def test_logs_follow_tail_timestamps(docker: DockerCLI) -> None:
    docker(
        "run", "-d", "--name", "talker", "busybox", "sh", "-c",
        "for i in 1 2 3; do echo line$i; echo err$i >&2; sleep 0.3; done",
    )  # fmt: skip
    follow = docker("logs", "-f", "talker", timeout=30)
    assert follow.stdout == "line1\nline2\nline3\n"
    assert follow.stderr == "err1\nerr2\nerr3\n"
    assert docker("logs", "--tail", "2", "talker").stdout == "line3\n"
    stamped = docker("logs", "-t", "talker").stdout.splitlines()
    assert stamped[0].endswith(" line1") and stamped[0][:4].isdigit() and "T" in stamped[0]
    docker("rm", "talker")


def test_resource_limits_are_enforced(docker: DockerCLI) -> None:
    script = (
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null ||"
        " cat /sys/fs/cgroup/memory.max;"
        "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max;"
        "grep CapEff /proc/self/status;"
        "id -u; id -g;"
        "touch /newfile 2>&1 || true"
    )
    out = docker(
        "run", "--rm", "--memory", "32m", "--pids-limit", "20", "--cap-drop", "ALL",
        "--read-only", "--user", "1000:1000", "busybox", "sh", "-c", script,
    ).stdout.splitlines()  # fmt: skip
    assert out[0] == str(32 * 1024 * 1024)
    assert out[1] == "20"
    assert out[2].split()[-1] == "0000000000000000"
    assert out[3:5] == ["1000", "1000"]
    assert "Read-only file system" in out[5]


def test_default_capabilities_and_masked_paths(docker: DockerCLI) -> None:
    out = docker(
        "run", "--rm", "busybox", "sh", "-c",
        "grep CapEff /proc/self/status; cat /proc/kcore | wc -c; echo 1 > /proc/sysrq-trigger",
        check=False,
    )  # fmt: skip
    assert "00000000a80425fb" in out.stdout
    assert "0\n" in out.stdout  # /proc/kcore is masked
    assert out.returncode != 0  # /proc is read-only where Docker makes it so


def test_systempaths_unconfined_leaves_proc_unmasked(docker: DockerCLI) -> None:
    """The CLI sends empty MaskedPaths and ReadonlyPaths: nothing is masked or made read-only,
    as dockerd runs it."""
    mounts = "grep -cE ' /proc/(keys|sys) ' /proc/self/mountinfo"  # masked; read-only
    masked = docker("run", "--rm", "busybox", "sh", "-c", mounts).stdout
    assert masked == "2\n"
    plain = docker(
        "run", "--rm", "--security-opt", "systempaths=unconfined", "busybox", "sh", "-c",
        mounts, check=False,
    )  # fmt: skip
    assert plain.stdout == "0\n"
    inspect = docker(
        "create", "--security-opt", "systempaths=unconfined", "busybox", "true"
    ).stdout.strip()
    try:
        shown = docker("inspect", "-f", "{{json .HostConfig.MaskedPaths}}", inspect).stdout
        assert shown.strip() == "[]"
    finally:
        docker("rm", inspect)


def test_kill_without_a_signal_returns_once_the_container_exited(docker: DockerCLI) -> None:
    """As dockerd: ``docker kill`` names no signal, so the engine waits for the exit."""
    for attempt in range(3):
        name = f"killed{attempt}"
        docker("run", "-d", "--name", name, "busybox", "sleep", "600")
        try:
            docker("kill", name)
            assert state(docker, name)["Status"] == "exited"
        finally:
            docker("rm", "-f", name)


def test_restart_on_failure_retries_twice(docker: DockerCLI) -> None:
    docker("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c",
           "exit 1")  # fmt: skip

    def settled() -> bool:
        data = json.loads(docker("inspect", "flaky").stdout)[0]
        return data["RestartCount"] == 2 and data["State"]["Status"] == "exited"

    wait_for(settled, timeout=20)
    time.sleep(1)
    data = json.loads(docker("inspect", "flaky").stdout)[0]
    assert data["RestartCount"] == 2 and data["State"]["ExitCode"] == 1
    docker("rm", "flaky")


def test_names_rename_and_conflicts(docker: DockerCLI) -> None:
    docker("create", "--name", "first", "busybox", "true")
    result = docker("run", "--name", "first", "busybox", "true", check=False)
    assert result.returncode == 125
    assert 'The container name "/first" is already in use by container' in result.stderr
    result = docker("create", "--name", "bad name!", "busybox", "true", check=False)
    assert "Invalid container name" in result.stderr
    docker("rename", "first", "second")
    assert docker("ps", "-a", "--filter", "name=second", "--format", "{{.Names}}").stdout == (
        "second\n"
    )
    docker("rm", "second")


def test_unknown_objects(docker: DockerCLI) -> None:
    result = docker("stop", "no-such-container", check=False)
    assert result.returncode == 1
    assert "No such container: no-such-container" in result.stderr
    result = docker("run", "no-such-image:1", check=False)
    assert result.returncode == 125
    assert "Unable to find image 'no-such-image:1' locally" in result.stderr


def test_bad_input_over_the_api(engine: EngineProcess) -> None:
    body = json.dumps({"Image": "busybox", "HostConfig": {"Memory": "32m"}}).encode()
    resp = engine.request("POST", "/containers/create", body, {"Content-Type": "application/json"})
    assert resp.status == 400
    assert "cannot unmarshal string" in json.loads(resp.body)["message"]
    resp = engine.request("POST", "/containers/create", b"{not json", {})
    assert resp.status == 400
    body = json.dumps({"Image": "busybox", "HostConfig": {"Memory": 1024}}).encode()
    resp = engine.request("POST", "/containers/create", body, {})
    assert resp.status == 400
    assert json.loads(resp.body)["message"] == "Minimum memory limit allowed is 6MB"
    resp = engine.request("POST", "/containers/nope/start")
    assert resp.status == 404
    assert json.loads(resp.body)["message"] == "No such container: nope"


def test_list_filters(docker: DockerCLI) -> None:
    docker("create", "--name", "lbl", "--label", "tier=db", "busybox", "true")
    docker("run", "--name", "done0", "busybox", "true")
    names = lambda *f: set(  # noqa: E731
        docker(
            "ps", "-a", *[a for x in f for a in ("--filter", x)], "--format", "{{.Names}}"
        ).stdout.split()
    )
    assert names("label=tier=db") == {"lbl"}
    assert "done0" in names("status=exited")
    assert "lbl" in names("status=created")
    assert names("exited=0", "name=done0") == {"done0"}
    assert {"lbl", "done0"} <= names("ancestor=busybox")
    assert docker("ps", "-q").stdout == ""
    docker("rm", "lbl", "done0")


def test_wait_and_prune(docker: DockerCLI) -> None:
    docker("run", "-d", "--name", "waited", "busybox", "sh", "-c", "sleep 0.5; exit 4")
    assert docker("wait", "waited").stdout.strip() == "4"
    out = docker("container", "prune", "-f").stdout
    assert "waited" not in docker("ps", "-a", "--format", "{{.Names}}").stdout
    assert "Total reclaimed space" in out


def test_events_for_a_run(docker: DockerCLI) -> None:
    since = time.time()
    docker("run", "--rm", "--name", "evented", "busybox", "true")
    out = docker(
        "events", "--since", f"{since - 1:.3f}", "--until", f"{time.time() + 0.5:.3f}",
        "--filter", "container=evented", "--format", "{{.Action}}",
    ).stdout.split()  # fmt: skip
    for action in ("create", "attach", "start", "die", "destroy"):
        if action == "attach":
            continue
        assert action in out, out


def test_rm_running_needs_force(docker: DockerCLI) -> None:
    docker("run", "-d", "--name", "busy", "busybox", "sleep", "100")
    proc = subprocess.run([DOCKER, "rm", "busy"], capture_output=True, text=True, env=docker.env())
    assert proc.returncode == 1
    docker("rm", "-f", "busy")


def test_health_checks(docker: DockerCLI) -> None:
    since = time.time()
    docker(
        "run", "-d", "--name", "hc", "--health-cmd", "test -f /tmp/ok",
        "--health-interval", "300ms", "--health-retries", "2", "busybox", "sleep", "300",
    )  # fmt: skip
    status = lambda: docker("ps", "--filter", "name=hc", "--format", "{{.Status}}").stdout  # noqa: E731
    assert "(health: starting)" in status()
    wait_for(lambda: "(unhealthy)" in status(), timeout=15)
    docker("exec", "hc", "touch", "/tmp/ok")
    wait_for(lambda: "(healthy)" in status(), timeout=15)
    health = state(docker, "hc")["Health"]
    assert health["Status"] == "healthy" and health["FailingStreak"] == 0
    assert health["Log"][-1]["ExitCode"] == 0
    assert docker("ps", "--filter", "health=healthy", "--format", "{{.Names}}").stdout == "hc\n"
    events = docker(
        "events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
        "--filter", "event=health_status", "--format", "{{.Action}}",
    ).stdout.splitlines()  # fmt: skip
    assert events == ["health_status: unhealthy", "health_status: healthy"]
    docker("rm", "-f", "hc")


LIMITS_SCRIPT = (
    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max;"
    "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"
)


def test_update_changes_limits_live(docker: DockerCLI) -> None:
    docker("run", "-d", "--name", "upd", "--memory", "32m", "busybox", "sleep", "300")
    docker("update", "--memory", "64m", "--memory-swap", "128m", "--pids-limit", "30",
           "--restart", "unless-stopped", "upd")  # fmt: skip
    out = docker(
        "exec", "upd", "sh", "-c",
        LIMITS_SCRIPT,
    ).stdout.split()  # fmt: skip
    assert out == [str(64 * 1024 * 1024), "30"]
    host = json.loads(docker("inspect", "upd").stdout)[0]["HostConfig"]
    assert host["Memory"] == 64 * 1024 * 1024 and host["RestartPolicy"]["Name"] == "unless-stopped"
    result = docker("update", "--memory", "1m", "upd", check=False)
    assert result.returncode != 0 and "Minimum memory limit allowed is 6MB" in result.stderr
    docker("rm", "-f", "upd")


def test_top_and_stats(docker: DockerCLI) -> None:
    docker("run", "-d", "--name", "measured", "--memory", "64m", "--pids-limit", "50",
           "busybox", "sh", "-c", "sleep 300 & sleep 301")  # fmt: skip
    top = docker("top", "measured").stdout.splitlines()
    assert top[0].split()[:3] == ["UID", "PID", "PPID"]
    commands = [line.split(None, 7)[-1] for line in top[1:]]
    assert {"sleep 300", "sleep 301"} <= set(commands)
    custom = docker("top", "measured", "-o", "pid,comm").stdout.splitlines()
    assert custom[0].split() == ["PID", "COMMAND"]
    row = json.loads(docker("stats", "--no-stream", "--format", "{{json .}}", "measured").stdout)
    assert row["Name"] == "measured"
    assert row["MemUsage"].endswith("/ 64MiB")
    assert row["PIDs"] == "2"  # sh execs its last command: sleep 301 and sleep 300
    assert row["CPUPerc"].endswith("%")
    docker("rm", "-f", "measured")
    result = docker("top", "no-such", check=False)
    assert "No such container" in result.stderr


def test_detach_keys_leave_the_container_running(docker: DockerCLI) -> None:
    feeder = subprocess.Popen(
        ["sh", "-c", "sleep 1.5; printf 'echo typed\\r'; sleep 0.5; printf '\\020\\021'; sleep 3"],
        stdout=subprocess.PIPE,
    )
    assert feeder.stdout is not None
    result = subprocess.run(
        ["script", "-qec", "docker run -it --name detached busybox sh", "/dev/null"],
        stdin=feeder.stdout, capture_output=True, text=True, env=docker.env(), timeout=60,
    )  # fmt: skip
    feeder.wait()
    assert result.returncode == 0
    assert "typed" in result.stdout
    assert state(docker, "detached")["Running"]
    docker("rm", "-f", "detached")


def test_container_settings_reach_the_process(docker: DockerCLI) -> None:
    out = docker(
        "run", "--rm", "--init", "--hostname", "box", "--add-host", "db:10.1.2.3",
        "--dns", "9.9.9.9", "--dns-search", "corp", "--ulimit", "nofile=1000:2000",
        "--sysctl", "net.ipv4.ip_forward=1", "--tmpfs", "/scratch:size=1m",
        "--group-add", "1234", "-w", "/work", "-e", "A=1", "--entrypoint", "sh", "busybox",
        "-c", "ps -o pid,comm | sed -n 2p; hostname; grep -w db /etc/hosts; cat /etc/resolv.conf;"
        " ulimit -n; cat /proc/sys/net/ipv4/ip_forward; grep -c ' /scratch ' /proc/mounts;"
        " id -G; pwd; echo $A",
    ).stdout.split("\n")  # fmt: skip
    assert out[0].split() == ["1", "docker-init"]
    assert out[1] == "box"
    assert out[2].split() == ["10.1.2.3", "db"]
    assert "nameserver 9.9.9.9" in out and "search corp" in out
    rest = out[out.index("search corp") + 1 :]
    assert rest[:6] == ["1000", "1", "1", "0 1234", "/work", "1"]
    caps = docker("run", "--rm", "--cap-add", "NET_ADMIN", "busybox", "grep", "CapEff",
                  "/proc/self/status").stdout  # fmt: skip
    assert caps.split()[-1] == "00000000a80435fb"  # the default 14 plus NET_ADMIN (bit 12)
    nnp = docker("run", "--rm", "--security-opt", "no-new-privileges", "busybox", "grep",
                 "NoNewPrivs", "/proc/self/status").stdout  # fmt: skip
    assert nnp.split()[-1] == "1"
    links = docker("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").stdout
    assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]


def test_exec_interactive_tty(docker: DockerCLI) -> None:
    docker("run", "-d", "--name", "shell-host", "busybox", "sleep", "300")
    feeder = subprocess.Popen(
        ["sh", "-c", "sleep 1; printf 'echo in-$((6*7)); tty; exit 5\\r'; sleep 2"],
        stdout=subprocess.PIPE,
    )
    result = subprocess.run(
        ["script", "-qec", "docker exec -it shell-host sh", "/dev/null"],
        stdin=feeder.stdout, capture_output=True, text=True, env=docker.env(), timeout=60,
    )  # fmt: skip
    feeder.wait()
    assert "in-42" in result.stdout
    assert "/dev/pts/" in result.stdout
    assert result.returncode == 5
    docker("rm", "-f", "shell-host")
