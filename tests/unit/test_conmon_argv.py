"""Pure translators of the conmon layer: conmon's argv, runtime error texts, k8s-file log lines,
cgroup mount tables and stats files. No root, no processes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.runtime import cgroups, k8s_log
from engine.runtime.conmon import ConmonOptions, conmon_argv
from engine.runtime.oci import OciRuntime, runtime_message, start_exit_code

CID = "c0ffee"


def options(**overrides: object) -> ConmonOptions:
    values: dict[str, object] = dict(
        container_id=CID,
        runtime_path="/usr/bin/crun",
        bundle=Path("/var/lib/doca/containers/c0ffee"),
        pidfile=Path("/run/doca/c0ffee/pidfile"),
        exit_dir=Path("/run/doca/exits"),
        persist_dir=Path("/var/lib/doca/containers/c0ffee"),
        oci_log=Path("/run/doca/c0ffee/oci-log"),
        log_path=Path("/var/lib/doca/containers/c0ffee/ctr.log"),
        name="web",
    )
    values.update(overrides)
    return ConmonOptions(**values)  # type: ignore[arg-type]


def test_container_argv_matches_podmans_shape() -> None:
    argv = conmon_argv(options(runtime_args=("--root", "/run/doca/runtime")))
    assert argv == [
        "/usr/bin/conmon", "--api-version", "1", "-c", CID, "-u", CID, "-r", "/usr/bin/crun",
        "-b", "/var/lib/doca/containers/c0ffee", "-p", "/run/doca/c0ffee/pidfile",
        "-n", "web", "--exit-dir", "/run/doca/exits",
        "--persist-dir", "/var/lib/doca/containers/c0ffee", "--full-attach",
        "--runtime-arg", "--root", "--runtime-arg", "/run/doca/runtime",
        "-l", "k8s-file:/var/lib/doca/containers/c0ffee/ctr.log", "--log-level", "warning",
        "--runtime-arg", "--log-format=json", "--runtime-arg", "--log",
        "--runtime-arg=/run/doca/c0ffee/oci-log",
    ]  # fmt: skip


def test_global_runtime_args_come_before_the_log_flags() -> None:
    # conmon hands runtime args over in order, and --root must precede the verb crun gets.
    argv = conmon_argv(options(runtime_args=("--root", "/r")))
    assert argv.index("--root") < argv.index("--log-format=json")


def test_tty_stdin_and_flags() -> None:
    argv = conmon_argv(
        options(
            terminal=True, stdin=True, leave_stdin_open=True, timeout=30, log_size_max=1000,
            conmon_pidfile=Path("/run/c.pid"), socket_dir_path=Path("/run/s"), sync=True,
            no_new_keyring=True, systemd_cgroup=True,
        )
    )  # fmt: skip
    for flag in ("-t", "-i", "--leave-stdin-open", "--timeout=30", "--sync", "--no-new-keyring"):
        assert flag in argv
    assert argv[argv.index("--log-size-max") + 1] == "1000"
    assert argv[argv.index("--conmon-pidfile") + 1] == "/run/c.pid"
    assert argv[argv.index("--socket-dir-path") + 1] == "/run/s"
    assert "-s" in argv


def test_defaults_leave_optional_flags_out() -> None:
    argv = conmon_argv(options(name="", log_path=None))
    assert argv[argv.index("-n") + 1] == CID  # the name defaults to the ID
    assert argv[argv.index("-l") + 1] == "none"
    for flag in ("-t", "-i", "-e", "--sync", "--exit-command", "--leave-stdin-open", "-s"):
        assert flag not in argv


def test_exec_argv() -> None:
    spec = Path("/run/doca/c0ffee/exec/e1/process.json")
    argv = conmon_argv(options(session_id="e1", exec_process_spec=spec, exec_attach=True))
    assert argv[argv.index("-u") + 1] == "e1"
    assert argv[argv.index("-c") + 1] == CID  # exit file is named after the container
    tail = argv[argv.index("-e") :]
    assert tail == ["-e", "--exec-attach", "--exec-process-spec", str(spec)]
    assert "--exec-attach" not in conmon_argv(options(exec_process_spec=spec))
    assert options(exec_process_spec=spec).is_exec and not options().is_exec


def test_exit_command() -> None:
    argv = conmon_argv(options(exit_command=("/usr/bin/doca-engine", "cleanup", CID), exit_delay=2))
    tail = argv[argv.index("--exit-command") :]
    assert tail == [
        "--exit-command", "/usr/bin/doca-engine", "--exit-command-arg", "cleanup",
        "--exit-command-arg", CID, "--exit-delay", "2",
    ]  # fmt: skip


def test_oci_runtime_argv() -> None:
    runtime = OciRuntime("/usr/bin/crun", Path("/run/doca/runtime"))
    assert runtime.name == "crun"
    assert runtime.argv("kill", "x", "15") == [
        "/usr/bin/crun", "--root", "/run/doca/runtime", "--log-format=json", "kill", "x", "15",
    ]  # fmt: skip
    assert runtime.conmon_runtime_args() == ["--root", "/run/doca/runtime"]


def test_runtime_message_prefers_the_last_error() -> None:
    crun = (
        '{"msg":"some warning","level":"warning","time":"t"}\n'
        '{"msg":"executable file `x` not found in $PATH: No such file or directory",'
        '"level":"error","time":"t"}\n'
    )
    assert runtime_message(crun) == (
        "executable file `x` not found in $PATH: No such file or directory"
    )
    runc = '{"level":"error","msg":"container does not exist","time":"t"}'
    assert runtime_message(runc) == "container does not exist"
    assert runtime_message("plain text\n") == "plain text"
    assert "without a message" in runtime_message("")


def test_start_exit_codes_follow_dockerd() -> None:
    assert start_exit_code('exec: "x": executable file not found in $PATH') == 127
    assert start_exit_code("executable file `x` not found in $PATH: No such file") == 127
    assert start_exit_code("open /bin/x: permission denied") == 126
    assert start_exit_code("cgroup mount failed") is None


# --------------------------------------------------------------------------------------------
# k8s-file log lines


def test_parse_time_keeps_nanoseconds_and_offsets() -> None:
    ns = k8s_log.parse_time(b"2024-01-01T01:00:00.123456789+01:00")
    assert ns == 1704067200_123456789
    assert k8s_log.parse_time(b"2024-01-01T00:00:00Z") == 1704067200_000000000
    assert k8s_log.parse_time(b"2024-01-01T00:00:00.5Z") == 1704067200_500000000
    assert k8s_log.format_time(ns) == "2024-01-01T00:00:00.123456789+00:00"
    with pytest.raises(ValueError):
        k8s_log.parse_time(b"yesterday")


def test_format_lines_as_conmon_writes_them() -> None:
    out = k8s_log.format_lines(1704067200_000000001, "stdout", b"one\ntwo\npart")
    assert out == (
        b"2024-01-01T00:00:00.000000001+00:00 stdout F one\n"
        b"2024-01-01T00:00:00.000000001+00:00 stdout F two\n"
        b"2024-01-01T00:00:00.000000001+00:00 stdout P part\n"
    )


def test_partial_lines_are_joined_per_stream() -> None:
    text = (
        k8s_log.format_lines(1, "stdout", b"hel")
        + k8s_log.format_lines(2, "stderr", b"err\n")
        + k8s_log.format_lines(3, "stdout", b"lo\n")
        + k8s_log.format_lines(4, "stdout", b"\n")
        + k8s_log.format_lines(5, "stdout", b"no newline")
        + b"garbage line\n"
    )
    records = k8s_log.parse_records(text)
    assert [(r.time_ns, r.stream, r.data) for r in records] == [
        (2, "stderr", b"err\n"),
        (1, "stdout", b"hello\n"),
        (4, "stdout", b"\n"),
        (5, "stdout", b"no newline"),
    ]


def test_parse_line_keeps_spaces_in_the_text() -> None:
    line = b"2024-01-01T00:00:00.000000000+00:00 stderr F  two  spaces \n"
    assert k8s_log.parse_line(line) == (1704067200_000000000, "stderr", False, b" two  spaces \n")
    assert k8s_log.parse_line(b"2024-01-01T00:00:00Z stdout X text") is None


async def test_read_log_tail_since_until(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    log.write_bytes(b"".join(k8s_log.format_lines(t, "stdout", b"%d\n" % t) for t in range(10)))

    async def read(**kwargs: Any) -> list[int]:
        return [r.time_ns async for r in k8s_log.read_log(log, **kwargs)]

    assert await read() == list(range(10))
    assert await read(tail=3) == [7, 8, 9]
    assert await read(tail=0) == []
    assert await read(since_ns=4, until_ns=6) == [4, 5, 6]
    assert await read(tail=3, since_ns=8) == [8, 9]  # tail first, then since (as dockerd)
    assert [r async for r in k8s_log.read_log(tmp_path / "missing.log")] == []


async def test_follow_until_exit_and_across_rotation(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    log.write_bytes(k8s_log.format_lines(1, "stdout", b"first\n"))
    exited = asyncio.Event()
    got: list[bytes] = []

    async def follow() -> None:
        async for record in k8s_log.read_log(log, follow=True, exited=exited, poll_interval=0.01):
            got.append(record.data)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.05)
    with log.open("ab") as f:
        f.write(k8s_log.format_lines(2, "stdout", b"sec"))
    await asyncio.sleep(0.05)
    with log.open("ab") as f:
        f.write(k8s_log.format_lines(3, "stdout", b"ond\nunfinished"))
    await asyncio.sleep(0.05)
    rotated = tmp_path / "ctr.log.tmp"  # conmon's rotation: a new file renamed over the old one
    rotated.write_bytes(k8s_log.format_lines(4, "stderr", b"after rotation\n"))
    rotated.rename(log)
    await asyncio.sleep(0.05)
    exited.set()
    await asyncio.wait_for(task, 2)
    assert got == [b"first\n", b"second\n", b"after rotation\n", b"unfinished"]


# --------------------------------------------------------------------------------------------
# cgroups

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""


def test_parse_mountinfo_layouts() -> None:
    hybrid = cgroups.parse_mountinfo(HYBRID)
    assert hybrid.layout is cgroups.CgroupLayout.HYBRID
    assert hybrid.v1["cpu"] == hybrid.v1["cpuacct"] == Path("/sys/fs/cgroup/cpu,cpuacct")
    assert hybrid.v1["name=systemd"] == Path("/sys/fs/cgroup/systemd")
    assert hybrid.unified == Path("/sys/fs/cgroup/unified")
    assert hybrid.container_dirs("/doca/x")["memory"] == Path("/sys/fs/cgroup/memory/doca/x")
    assert hybrid.container_dirs("/doca/x")[""] == Path("/sys/fs/cgroup/unified/doca/x")

    v2 = cgroups.parse_mountinfo("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
    assert v2.layout is cgroups.CgroupLayout.UNIFIED and v2.unified == Path("/sys/fs/cgroup")
    legacy = cgroups.parse_mountinfo("\n".join(HYBRID.splitlines()[:4]))
    assert legacy.layout is cgroups.CgroupLayout.LEGACY and legacy.unified is None
    escaped = cgroups.parse_mountinfo("1 2 0:1 / /a\\040b rw - cgroup cgroup rw,pids\n")
    assert escaped.v1["pids"] == Path("/a b")
    assert cgroups.cgroup_path("abc") == "/doca/abc"


def test_stray_controllers_only_on_hybrid(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("hugetlb\n")
    hybrid = cgroups.CgroupMounts(cgroups.CgroupLayout.HYBRID, {"memory": tmp_path}, tmp_path)
    assert cgroups.stray_controllers(hybrid) == ["hugetlb"]
    v2 = cgroups.CgroupMounts(cgroups.CgroupLayout.UNIFIED, {}, tmp_path)
    assert cgroups.stray_controllers(v2) == []


def test_read_stats_v2(tmp_path: Path) -> None:
    files = {
        "memory.current": "1000\n", "memory.max": "max\n", "memory.stat": "anon 10\nfile 20\n",
        "cpu.stat": "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 0\n",
        "pids.current": "2\n", "pids.max": "100\n",
        "io.stat": "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n",
    }  # fmt: skip
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    stats = cgroups.read_stats_v2(tmp_path)
    assert (stats.memory_usage, stats.memory_limit, stats.memory_stat["file"]) == (1000, None, 20)
    assert (stats.cpu_total_ns, stats.cpu_user_ns, stats.cpu_system_ns) == (5000, 3000, 2000)
    assert (stats.pids_current, stats.pids_limit) == (2, 100)
    assert [(e.op, e.value) for e in stats.io_service_bytes] == [("read", 10), ("write", 20)]
    assert [(e.op, e.value) for e in stats.io_serviced] == [("read", 1), ("write", 2)]


def test_read_stats_v1(tmp_path: Path) -> None:
    for sub, name, text in [
        ("memory", "memory.usage_in_bytes", "4096\n"),
        ("memory", "memory.limit_in_bytes", "9223372036854771712\n"),
        ("cpuacct", "cpuacct.usage", "123\n"),
        ("cpuacct", "cpuacct.usage_percpu", "100 23 \n"),
        ("pids", "pids.max", "max\n"),
        (
            "blkio",
            "blkio.throttle.io_service_bytes_recursive",
            "8:0 Read 5\n8:0 Write 6\nTotal 11\n",
        ),
    ]:
        (tmp_path / sub).mkdir(exist_ok=True)
        (tmp_path / sub / name).write_text(text)
    dirs = {sub: tmp_path / sub for sub in ("memory", "cpuacct", "pids", "blkio")}
    stats = cgroups.read_stats_v1(dirs)
    assert (stats.memory_usage, stats.memory_limit) == (4096, None)
    assert (stats.cpu_total_ns, stats.cpu_percpu_ns) == (123, (100, 23))
    assert (stats.pids_current, stats.pids_limit) == (None, None)
    assert [(e.major, e.op, e.value) for e in stats.io_service_bytes] == [
        (8, "Read", 5),
        (8, "Write", 6),
    ]
