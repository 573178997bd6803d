"""The CLI's pure formatting, checked against what the docker CLI prints."""

from __future__ import annotations

import pytest

from doca.cli import formatting
from doca.cli.containers import create_config
from doca.cli.images import image_rows
from doca.cli.runner import start_error_code
from doca.cli.system import info_lines, server_lines


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.4, "Less than a second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (59 * 60, "59 minutes"),
        (3600, "About an hour"),
        (5 * 3600, "5 hours"),
        (47 * 3600, "47 hours"),
        (3 * 86400, "3 days"),
        (15 * 86400, "2 weeks"),
        (90 * 86400, "3 months"),
        (3 * 365 * 86400, "3 years"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert formatting.human_duration(seconds) == text


def test_time_ago_never_in_the_future() -> None:
    assert formatting.time_ago(1000.0, 880.0) == "Less than a second ago"
    assert formatting.time_ago(1000.0, 1150.0) == "2 minutes ago"


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0B"), (999, "999B"), (1000, "1kB"), (4261, "4.26kB"), (1_981_234, "1.98MB"),
     (77_800_000, "77.8MB"), (1_230_000_000, "1.23GB")],
)  # fmt: skip
def test_human_size(size: int, text: str) -> None:
    assert formatting.human_size(size) == text


def test_bytes_size() -> None:
    assert formatting.bytes_size(8 * 1024**3) == "8GiB"
    assert formatting.bytes_size(int(7.5 * 1024**3)) == "7.5GiB"
    assert formatting.bytes_size(512) == "512B"


def test_short_id() -> None:
    assert formatting.short_id("sha256:" + "ab" * 32) == "abababababab"
    assert formatting.short_id("0123456789abcdef") == "0123456789ab"


def test_quoted_command_is_cut_to_20_characters() -> None:
    assert formatting.quoted_command("echo hi") == '"echo hi"'
    assert formatting.quoted_command("httpd -f -v -p 8080 -h /www") == '"httpd -f -v -p 8080…"'


def test_ports() -> None:
    entries = [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"PrivatePort": 53, "Type": "udp"},
        {"PrivatePort": 53, "Type": "udp"},
    ]
    assert formatting.ports(entries) == "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 53/udp"


def test_split_repo_tag() -> None:
    assert formatting.split_repo_tag("busybox:latest") == ("busybox", "latest")
    assert formatting.split_repo_tag("localhost:5000/app") == ("localhost:5000/app", "<none>")
    assert formatting.split_repo_tag("localhost:5000/app:1") == ("localhost:5000/app", "1")


def test_table_pads_like_tabwriter() -> None:
    text = formatting.table(("A", "LONG HEADER", "C"), [("xyz", "1", "last")])
    assert text.splitlines() == ["A         LONG HEADER   C", "xyz       1             last"]


def test_image_rows_one_per_tag_and_none_for_untagged() -> None:
    image = {"Id": "sha256:" + "a" * 64, "RepoTags": ["busybox:latest", "bb:1"],
             "Created": 0, "Size": 4_261_000}  # fmt: skip
    rows = list(image_rows(image, now=30))
    assert rows == [
        ("busybox", "latest", "aaaaaaaaaaaa", "30 seconds ago", "4.26MB"),
        ("bb", "1", "aaaaaaaaaaaa", "30 seconds ago", "4.26MB"),
    ]
    assert next(image_rows({**image, "RepoTags": None}, now=30))[:2] == ("<none>", "<none>")


def test_create_config() -> None:
    config = create_config("busybox", ("sh", "-c", "exit 3"), ("A=1",))
    assert config["Image"] == "busybox"
    assert config["Cmd"] == ["sh", "-c", "exit 3"]
    assert config["Env"] == ["A=1"]
    assert create_config("busybox", (), ())["Cmd"] is None


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ('exec: "nosuchcmd": executable file not found in $PATH', 127),
        ("open /nope: no such file or directory", 127),
        ("exec /etc/passwd: permission denied", 126),
        ("something else broke", 125),
    ],
)
def test_start_error_code(message: str, code: int) -> None:
    assert start_error_code(message) == code


def test_version_and_info_lines() -> None:
    lines = server_lines({"Platform": {"Name": "Doca Engine"}, "Version": "0.1.0",
                          "ApiVersion": "1.47", "MinAPIVersion": "1.24"})  # fmt: skip
    assert lines[:3] == ["Server: Doca Engine", " Engine:", "  Version:          0.1.0"]
    assert "  API version:      1.47 (minimum version 1.24)" in lines
    info = info_lines({"Containers": 2, "ContainersRunning": 1, "MemTotal": 8 * 1024**3})
    assert info[:3] == ["Server:", " Containers: 2", "  Running: 1"]
    assert " Total Memory: 8GiB" in info
