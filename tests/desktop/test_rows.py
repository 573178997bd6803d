"""Pure translators: list rows to panel rows, and the run dialog's input to a create body."""

from __future__ import annotations

from typing import Any

import pytest

from desktop_app.state.rows import (
    allowed_actions,
    container_rows,
    format_ports,
    human_size,
    image_rows,
    images_in_use,
    status_summary,
    volume_rows,
)
from desktop_app.state.run_config import RunConfigError, RunRequest, parse_env, parse_ports
from tests.desktop.fakes import container

PROJECT = "com.docker.compose.project"


def test_human_size_like_the_docker_cli() -> None:
    assert human_size(0) == "0B"
    assert human_size(999) == "999B"
    assert human_size(4_194_304) == "4.19MB"
    assert human_size(128_000) == "128kB"
    assert human_size(999_999) == "1MB"
    assert human_size(72_800_000_000) == "72.8GB"


def test_ports_like_docker_ps() -> None:
    ports = [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"PrivatePort": 443, "Type": "tcp"},
    ]
    assert format_ports(ports) == "0.0.0.0:8080->80/tcp, 443/tcp"


def test_containers_grouped_by_compose_project_then_by_name() -> None:
    rows = container_rows(
        [
            container("1", "zeta"),
            container("2", "shop-web-1", Labels={PROJECT: "shop"}),
            container("3", "alpha", state="exited"),
            container("4", "blog-db-1", Labels={PROJECT: "blog"}),
            container("5", "shop-db-1", Labels={PROJECT: "shop"}),
        ]
    )
    assert [(r.project, r.name) for r in rows] == [
        ("blog", "blog-db-1"),
        ("shop", "shop-db-1"),
        ("shop", "shop-web-1"),
        ("", "alpha"),
        ("", "zeta"),
    ]
    assert rows[3].state == "exited" and rows[0].created.startswith("2024-01-01")


@pytest.mark.parametrize(
    ("state", "status", "summary"),
    [
        ("running", "Up 3 seconds", "Running"),
        ("running", "Up 2 hours (healthy)", "Running (healthy)"),
        ("running", "Up 1 second (health: starting)", "Running (health: starting)"),
        ("exited", "Exited (137) 5 minutes ago", "Exited (137)"),
        ("paused", "Up 3 seconds (Paused)", "Paused"),
        ("created", "Created", "Created"),
    ],
)
def test_status_summary_does_not_go_stale(state: str, status: str, summary: str) -> None:
    assert status_summary(state, status) == summary


def test_actions_follow_the_state() -> None:
    assert allowed_actions("running") >= {"stop", "pause", "kill", "restart"}
    assert "start" not in allowed_actions("running")
    assert allowed_actions("paused") >= {"unpause"} and "pause" not in allowed_actions("paused")
    assert allowed_actions("exited") >= {"start", "remove"}


def test_images_one_row_per_tag_and_in_use() -> None:
    used = "sha256:" + "b" * 64
    images: list[dict[str, Any]] = [
        {"Id": used, "RepoTags": ["busybox:latest", "bb:1"], "Size": 4_194_304, "Created": 1},
        {"Id": "sha256:" + "c" * 64, "RepoTags": ["<none>:<none>"], "Size": 10},
        {"Id": "sha256:" + "d" * 64, "RepoTags": None, "Size": 10},
    ]
    rows = image_rows(images, images_in_use([container("1", "web")]))
    assert [r.repo_tag for r in rows] == [
        "bb:1",
        "busybox:latest",
        "<none>:<none>",
        "<none>:<none>",
    ]
    assert [r.in_use for r in rows] == [True, True, False, False]
    assert rows[0].id == "b" * 12 and rows[0].size == "4.19MB"
    assert rows[2].key == "sha256:" + "c" * 64  # an untagged image is removed by ID


def test_volumes_by_name() -> None:
    rows = volume_rows([{"Name": "b", "Driver": "local", "Mountpoint": "/b"}, {"Name": "a"}])
    assert [r.name for r in rows] == ["a", "b"]


def test_run_request_makes_a_docker_run_body() -> None:
    request = RunRequest(
        image=" busybox ",
        name="web",
        command="sh -c 'echo hi; sleep 9'",
        env_text="A=1\n\n# comment\nB=two words\n",
        ports_text="8080:80, 127.0.0.1:5353:53/udp 9000",
        restart_policy="unless-stopped",
    )
    config = request.to_create_config()
    assert config["Image"] == "busybox"
    assert config["Cmd"] == ["sh", "-c", "echo hi; sleep 9"]
    assert config["Env"] == ["A=1", "B=two words"]
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "9000/tcp": {}}
    assert config["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
        "9000/tcp": [{"HostIp": "", "HostPort": ""}],
    }
    assert config["HostConfig"]["RestartPolicy"] == {"Name": "unless-stopped"}


def test_run_request_without_command_keeps_the_image_default() -> None:
    config = RunRequest(image="busybox").to_create_config()
    assert "Cmd" not in config and config["HostConfig"]["RestartPolicy"] == {"Name": ""}


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (RunRequest(image=""), "choose an image"),
        (RunRequest(image="bb", command="sh -c 'unclosed"), "command"),
        (RunRequest(image="bb", ports_text="80:http"), "port mapping '80:http'"),
        (RunRequest(image="bb", env_text="=x"), "environment line 1"),
        (RunRequest(image="bb", restart_policy="sometimes"), "restart policy"),
    ],
)
def test_bad_input_says_what_is_wrong(request_: RunRequest, problem: str) -> None:
    with pytest.raises(RunConfigError, match=problem):
        request_.to_create_config()


def test_parsers() -> None:
    assert parse_env("X=1") == ["X=1"]
    assert parse_ports("[::1]:8080:80") == (
        {"80/tcp": {}},
        {"80/tcp": [{"HostIp": "::1", "HostPort": "8080"}]},
    )


def test_port_urls_for_published_tcp_ports() -> None:
    from desktop_app.state.rows import port_urls

    ports = [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "127.0.0.1", "PrivatePort": 443, "PublicPort": 8443, "Type": "tcp"},
        {"IP": "::1", "PrivatePort": 22, "PublicPort": 2222, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 53, "PublicPort": 5353, "Type": "udp"},
        {"PrivatePort": 9000, "Type": "tcp"},
    ]
    assert port_urls(ports) == (
        "http://localhost:8080/",
        "http://127.0.0.1:8443/",
        "http://[::1]:2222/",
    )
