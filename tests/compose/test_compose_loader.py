"""Loading projects: .env and --env-file, merging -f files, profiles, project names,
normalised shapes and errors that name file, line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from doca.compose.config_output import to_yaml
from doca.compose.errors import ComposeError
from doca.compose.loader import LoadOptions, load_project
from doca.compose.project import Project, normalize_project_name
from doca.compose.service_hash import go_json, service_hash


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def load(directory: Path, *files: str, environ: dict[str, str] | None = None,
         **options: object) -> Project:  # fmt: skip
    return load_project(LoadOptions(
        files=[str(directory / f) for f in files], environ=environ or {}, **options  # type: ignore[arg-type]
    ))  # fmt: skip


def test_env_file_and_process_environment(tmp_path: Path) -> None:
    write(tmp_path, ".env", "TAG=1.0\nexport NAME='lit $TAG'\nPORT=80 # comment\n")
    write(
        tmp_path,
        "compose.yaml",
        """
        services:
          web:
            image: "busybox:${TAG}"
            environment: ["A=$NAME", "P=${PORT}", "O=${OVERRIDE:-none}"]
    """,
    )
    project = load(tmp_path, "compose.yaml", environ={"OVERRIDE": "os"})
    web = project.services["web"]
    assert web["image"] == "busybox:1.0"
    assert web["environment"] == {"A": "lit $TAG", "O": "os", "P": "80"}


def test_explicit_env_file_replaces_dot_env(tmp_path: Path) -> None:
    write(tmp_path, ".env", "TAG=dot\n")
    write(tmp_path, "other.env", 'TAG="other"\n')
    write(tmp_path, "compose.yaml", "services: {web: {image: 'b:$TAG'}}\n")
    project = load(tmp_path, "compose.yaml", env_files=[str(tmp_path / "other.env")])
    assert project.services["web"]["image"] == "b:other"


def test_merge_rules(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        services:
          web:
            image: busybox
            command: [sh, -c, one]
            environment: {A: "1", B: "2"}
            labels: [x=1]
            ports: ["8080:80"]
            volumes: ["data:/data", "/tmp:/host"]
            dns: [127.0.0.1]
            healthcheck: {test: [CMD, "true"], interval: 10s}
        volumes: {data: {}}
    """,
    )
    write(
        tmp_path,
        "b.yaml",
        """
        services:
          web:
            command: two
            environment: [B=3, C=4]
            labels: {y: "2"}
            ports: ["8080:80", "9090:90"]
            volumes: [{type: bind, source: /srv, target: /host}]
            dns: [127.0.0.1, 127.0.0.2]
            healthcheck: {test: [CMD, "false"], retries: 2}
        volumes: {data: {labels: {k: v}}}
    """,
    )
    web = load(tmp_path, "a.yaml", "b.yaml").services["web"]
    assert web["command"] == ["two"]
    assert web["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert web["labels"] == {"x": "1", "y": "2"}
    assert [p["published"] for p in web["ports"]] == ["8080", "9090"]
    assert [(v["type"], v.get("source")) for v in web["volumes"]] == [
        ("volume", "data"), ("bind", "/srv")
    ]  # fmt: skip
    assert web["dns"] == ["127.0.0.1", "127.0.0.2"]
    assert web["healthcheck"] == {"test": ["CMD", "false"], "interval": "10s", "retries": 2}


def test_profiles(tmp_path: Path) -> None:
    write(
        tmp_path,
        "compose.yaml",
        """
        services:
          web: {image: busybox}
          debug: {image: busybox, profiles: [dbg]}
          tools: {image: busybox, profiles: [tools, dbg]}
    """,
    )
    assert set(load(tmp_path, "compose.yaml").services) == {"web"}
    assert set(load(tmp_path, "compose.yaml", profiles=["tools"]).services) == {"web", "tools"}
    env = {"COMPOSE_PROFILES": "dbg"}
    assert set(load(tmp_path, "compose.yaml", environ=env).services) == {"web", "debug", "tools"}
    targeted = load(tmp_path, "compose.yaml", targets=["debug"])
    assert set(targeted.services) == {"web", "debug"}
    assert set(targeted.disabled) == {"tools"}


def test_dependency_on_disabled_service_fails(tmp_path: Path) -> None:
    write(
        tmp_path,
        "compose.yaml",
        """
        services:
          web: {image: busybox, depends_on: [db]}
          db: {image: busybox, profiles: [db]}
    """,
    )
    with pytest.raises(ComposeError, match='depends on undefined service "db"') as info:
        load(tmp_path, "compose.yaml")
    assert info.value.line == 3
    assert load(tmp_path, "compose.yaml", profiles=["db"]).start_order() == ["db", "web"]


def test_project_name_precedence(tmp_path: Path) -> None:
    directory = tmp_path / "My App.v2"
    directory.mkdir()
    write(directory, "compose.yaml", "services: {web: {image: busybox}}\n")
    assert load(directory, "compose.yaml").name == "myappv2"
    write(directory, "compose.yaml", "name: named\nservices: {web: {image: busybox}}\n")
    assert load(directory, "compose.yaml").name == "named"
    env = {"COMPOSE_PROJECT_NAME": "fromenv"}
    assert load(directory, "compose.yaml", environ=env).name == "fromenv"
    assert load(directory, "compose.yaml", environ=env, project_name="flag").name == "flag"
    with pytest.raises(ComposeError, match="invalid project name"):
        load(directory, "compose.yaml", project_name="Bad!")
    assert normalize_project_name("_Foo-Bar.baz") == "foo-barbaz"


def test_normalised_shapes(tmp_path: Path) -> None:
    write(
        tmp_path,
        "compose.yaml",
        """
        services:
          web:
            image: busybox
            command: sh -c "echo 'a b'"
            ports: ["127.0.0.1:8080:80", "53:53/udp", "3000", {target: 81, published: 8081}]
            expose: [9000]
            volumes: ["data:/data:ro", "./src:/src", "/anon"]
            networks: {front: {aliases: [www], ipv4_address: 10.9.0.5}}
            depends_on: {db: {condition: service_healthy}}
            extra_hosts: ["a:1.2.3.4", "b=5.6.7.8"]
            stop_grace_period: 90
            healthcheck: {test: "wget -q localhost", interval: 1500ms}
            tty: "true"
          db:
            image: busybox
            environment: {N: 1, B: true, E: null}
        networks: {front: {}}
        volumes: {data: {}}
    """,
    )
    project = load(tmp_path, "compose.yaml")
    web, db = project.services["web"], project.services["db"]
    assert web["command"] == ["sh", "-c", "echo 'a b'"]
    assert web["ports"] == [
        {"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "8080",
         "protocol": "tcp"},
        {"mode": "ingress", "target": 53, "published": "53", "protocol": "udp"},
        {"mode": "ingress", "target": 3000, "protocol": "tcp"},
        {"mode": "ingress", "target": 81, "published": "8081", "protocol": "tcp"},
    ]  # fmt: skip
    assert web["expose"] == ["9000"]
    assert web["volumes"] == [
        {"type": "volume", "source": "data", "target": "/data", "read_only": True, "volume": {}},
        {"type": "bind", "source": str(tmp_path / "src"), "target": "/src",
         "bind": {"create_host_path": True}},
        {"type": "volume", "target": "/anon", "volume": {}},
    ]  # fmt: skip
    assert web["networks"] == {"front": {"aliases": ["www"], "ipv4_address": "10.9.0.5"}}
    assert web["depends_on"] == {"db": {"condition": "service_healthy", "required": True}}
    assert web["extra_hosts"] == ["a=1.2.3.4", "b=5.6.7.8"]
    assert web["stop_grace_period"] == "1m30s"
    assert web["healthcheck"] == {"test": ["CMD-SHELL", "wget -q localhost"],
                                  "interval": "1.5s"}  # fmt: skip
    assert web["tty"] is True
    assert db["environment"] == {"B": "true", "E": None, "N": "1"}
    assert db["networks"] == {"default": None}
    assert project.networks == {"default": {"name": f"{project.name}_default"},
                                "front": {"name": f"{project.name}_front"}}  # fmt: skip
    assert project.volumes == {"data": {"name": f"{project.name}_data"}}
    assert list(web)[:3] == ["command", "depends_on", "expose"]  # Compose's key order


def test_config_yaml_quotes_and_escapes(tmp_path: Path) -> None:
    write(
        tmp_path,
        "compose.yaml",
        """
        name: demo
        services:
          web:
            image: busybox
            environment: {Y: "$$HOME", N: "1", T: "true"}
            user: "1000"
    """,
    )
    text = to_yaml(load(tmp_path, "compose.yaml"))
    assert text == textwrap.dedent("""\
        name: demo
        services:
          web:
            environment:
              "N": "1"
              T: "true"
              "Y": $$HOME
            image: busybox
            networks:
              default: null
            user: "1000"
        networks:
          default:
            name: demo_default
    """)


def test_service_hash_is_stable_and_ignores_dependencies(tmp_path: Path) -> None:
    service = {"image": "busybox", "networks": {"default": None}}
    assert go_json({"command": None, "x": "<&>"}) == '{"command":null,"x":"\\u003c\\u0026\\u003e"}'
    with_deps = {**service, "depends_on": {"db": {"condition": "service_started"}}}
    assert service_hash(service) == service_hash(with_deps)
    assert service_hash(service) != service_hash({**service, "image": "other"})


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        (
            "services:\n  web:\n    image: busybox\n    imag: x\n",
            4,
            "services.web.imag",
            "additional property 'imag' is not allowed",
        ),
        (
            'services:\n  web:\n    image: busybox\n    ports: ["a:b:c:d"]\n',
            4,
            "services.web.ports",
            "invalid port",
        ),
        (
            "services:\n  web:\n    image: ${TAG:?need a tag}\n",
            3,
            "services.web.image",
            "required variable TAG is missing a value: need a tag",
        ),
        (
            'services:\n  web:\n    image: busybox\n    command: "${"\n',
            4,
            "services.web.command",
            "invalid interpolation format",
        ),
        (
            "services:\n  web:\n    image: busybox\n    privileged: maybe\n",
            4,
            "services.web.privileged",
            "must be a boolean",
        ),
        ("services:\n  web:\n    image: [busybox\n", 4, "", "yaml:"),
        (
            "services:\n  web:\n    image: busybox\n    volumes: [nope:/x]\n",
            4,
            "services.web.volumes",
            "undefined volume nope",
        ),
        (
            "services:\n  web:\n    image: busybox\n  web:\n    image: x\n",
            4,
            "services",
            'mapping key "web" already defined',
        ),
    ],
)
def test_errors_name_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, message: str
) -> None:
    path = write(tmp_path, "compose.yaml", text)
    with pytest.raises(ComposeError) as info:
        load(tmp_path, "compose.yaml")
    error = info.value
    assert (error.file, error.line, error.key) == (str(path), line, key)
    assert message in str(error)
    assert str(error).startswith(f"{path}:{line}: ")
