"""``extends`` and ``include`` in the loader: merge rules, relative paths against the right
directory, the variables each file is interpolated with, cycles, conflicts, and errors that
name the file, line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from doca.compose.errors import ComposeError
from doca.compose.loader import LoadOptions, load_project
from doca.compose.project import Project


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load(directory: Path, *files: str, environ: dict[str, str] | None = None,
         **options: object) -> Project:  # fmt: skip
    return load_project(LoadOptions(
        files=[str(directory / f) for f in files or ("compose.yaml",)], environ=environ or {},
        project_name="demo", **options,  # type: ignore[arg-type]
    ))  # fmt: skip


def failure(directory: Path, *files: str) -> ComposeError:
    with pytest.raises(ComposeError) as info:
        load(directory, *files)
    return info.value


def test_extends_in_the_same_file_merges_as_compose_does(tmp_path: Path) -> None:
    write(
        tmp_path,
        "compose.yaml",
        """
        services:
          base:
            image: busybox
            command: [sh, -c, base]
            environment: {A: "1", B: "2"}
            labels: [tier=back, app=shop]
            ports: ["8080:80"]
            expose: ["90"]
            dns: [1.1.1.1]
            depends_on: [db]
            profiles: [p1]
            networks: {back: {aliases: [api]}}
            healthcheck: {test: [CMD, "true"], retries: 3}
            volumes: ["data:/data", "/tmp:/host"]
          web:
            extends: base
            command: [echo, web]
            environment: {B: "3"}
            labels: {tier: front}
            ports: ["8080:80", "9090:90"]
            expose: ["90", "91"]
            dns: [1.1.1.1, 8.8.8.8]
            profiles: [p2]
            networks: [back]
            healthcheck: {interval: 30s}
            volumes: ["/srv:/host"]
          db:
            image: busybox
        networks: {back: {}}
        volumes: {data: {}}
    """,
    )
    web = load(tmp_path, profiles=["p1"]).services["web"]
    assert web["image"] == "busybox"
    assert web["command"] == ["echo", "web"]  # replaced, not appended
    assert web["environment"] == {"A": "1", "B": "3"}
    assert web["labels"] == {"app": "shop", "tier": "front"}
    assert [(p["published"], p["target"]) for p in web["ports"]] == [("8080", 80), ("9090", 90)]
    assert web["expose"] == ["90", "91"]
    assert web["dns"] == ["1.1.1.1", "8.8.8.8"]
    assert web["profiles"] == ["p1", "p2"]
    # compose-go inherits depends_on, whatever the specification says of it.
    assert web["depends_on"] == {"db": {"condition": "service_started", "required": True}}
    assert web["networks"] == {"back": {"aliases": ["api"]}}  # a bare name keeps the settings
    assert list(web["healthcheck"]) == ["test", "interval", "retries"]  # the struct's order
    assert [(v.get("source"), v["target"]) for v in web["volumes"]] == [
        ("data", "/data"), ("/srv", "/host")
    ]  # fmt: skip


def test_extends_another_file_resolves_its_paths_against_its_directory(tmp_path: Path) -> None:
    write(tmp_path, ".env", "TAG=from-dot-env\n")
    write(
        tmp_path,
        "compose.yaml",
        """
        services:
          app:
            extends: {file: sub/mid.yaml, service: mid}
            volumes: ["./top:/top"]
            environment: [TOP=1]
    """,
    )
    write(
        tmp_path,
        "sub/mid.yaml",
        """
        services:
          mid:
            extends: {file: deeper/base.yaml, service: base}
            volumes: ["./m:/m"]
            environment: {MID: "${TAG}"}
    """,
    )
    write(
        tmp_path,
        "sub/deeper/base.yaml",
        """
        services:
          base:
            image: "busybox:${TAG}"
            build: {context: ., dockerfile: app.Dockerfile}
            env_file: base.env
            volumes: ["./b:/b", "./replaced:/m"]
    """,
    )
    write(tmp_path, "sub/deeper/base.env", "FROM_FILE=yes\n")
    app = load(tmp_path).services["app"]
    deeper = tmp_path / "sub" / "deeper"
    assert app["image"] == "busybox:from-dot-env"  # the extended files see the project's .env
    assert app["build"]["context"] == str(deeper)
    assert app["build"]["dockerfile"] == "app.Dockerfile"
    assert app["environment"] == {"FROM_FILE": "yes", "MID": "from-dot-env", "TOP": "1"}
    assert [(v["source"], v["target"]) for v in app["volumes"]] == [
        (str(deeper / "b"), "/b"), (str(tmp_path / "sub" / "m"), "/m"),
        (str(tmp_path / "top"), "/top"),
    ]  # fmt: skip


def test_extends_in_an_override_file_sees_only_that_file(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", "services:\n  base: {image: busybox}\n")
    write(
        tmp_path,
        "other/override.yaml",
        """
        services:
          web:
            extends: base
    """,
    )
    error = failure(tmp_path, "compose.yaml", "other/override.yaml")
    override = tmp_path / "other/override.yaml"
    assert (error.file, error.line, error.key) == (str(override), 3, "services.web.extends")
    assert error.message == f'cannot extend service "web" in {override}: service "base" not found'


def test_extends_file_of_an_override_file_is_relative_to_the_project(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", "services:\n  db: {image: busybox}\n")
    write(
        tmp_path,
        "other/override.yaml",
        """
        services:
          web:
            extends: {file: common.yaml, service: base}
    """,
    )
    write(tmp_path, "common.yaml", "services:\n  base: {image: 'from-the-project-dir'}\n")
    write(tmp_path, "other/common.yaml", "services:\n  base: {image: 'next-to-the-file'}\n")
    project = load(tmp_path, "compose.yaml", "other/override.yaml")
    assert project.services["web"]["image"] == "from-the-project-dir"


def test_extends_cycle_names_every_link(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compose.yaml",
        """
        services:
          a:
            extends: b
          b:
            extends: c
          c:
            extends: a
    """,
    )
    error = failure(tmp_path)
    assert (error.file, error.line, error.key) == (str(path), 3, "services.a.extends")
    assert error.message == "\n".join([
        "Circular reference:", f"  a in {path}", f"  extends b in {path}",
        f"  extends c in {path}", f"  extends a in {path}",
    ])  # fmt: skip


def test_extends_cycle_across_files(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", "services:\n  a:\n    extends: {file: b.yaml, service: b}\n")
    write(tmp_path, "b.yaml", "services:\n  b:\n    extends: {file: compose.yaml, service: a}\n")
    assert failure(tmp_path).message == (
        "Circular reference:\n  a in b.yaml\n  extends b in compose.yaml\n  extends a in b.yaml"
    )


@pytest.mark.parametrize(
    ("extends", "key", "message"),
    [
        ("nope", "services.web.extends",
         'cannot extend service "web" in {main}: service "nope" not found'),
        ("{file: other.yaml, service: nope}", "services.web.extends",
         'cannot extend service "web" in {main}: service "nope" not found in other.yaml'),
        ("{file: missing.yaml, service: x}", "services.web.extends.file",
         "open {dir}/missing.yaml: no such file or directory"),
        ("{file: other.yaml}", "services.web.extends", "extends.web.service is required"),
    ],
)  # fmt: skip
def test_extends_errors_name_file_line_and_key(
    tmp_path: Path, extends: str, key: str, message: str
) -> None:
    main = write(tmp_path, "compose.yaml", f"services:\n  web:\n    extends: {extends}\n")
    write(tmp_path, "other.yaml", "services:\n  base: {image: busybox}\n")
    error = failure(tmp_path)
    assert (error.file, error.line, error.key) == (str(main), 3, key)
    assert error.message == message.format(main=main, dir=tmp_path)


def test_a_bad_key_in_the_extended_service_names_its_own_file(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", "services:\n  web:\n    extends: {file: o.yaml, service: b}\n")
    other = write(tmp_path, "o.yaml", "services:\n  b:\n    image: busybox\n    bogus: 1\n")
    error = failure(tmp_path)
    assert (error.file, error.line, error.key) == (str(other), 4, "services.b.bogus")


def test_include_loads_projects_on_their_own(tmp_path: Path) -> None:
    write(tmp_path, ".env", "TAG=main\n")
    write(
        tmp_path,
        "compose.yaml",
        """
        include:
          - lib/compose.yaml
          - path: [lib2/a.yaml, lib2/b.yaml]
            project_directory: elsewhere
            env_file: lib2/custom.env
        services:
          web:
            image: busybox:${TAG}
            depends_on: [db, cache]
    """,
    )
    write(
        tmp_path,
        "lib/compose.yaml",
        """
        services:
          db:
            image: busybox:${TAG}-${LIBONLY}
            build: {args: [LIBONLY, OS]}
            env_file: [db.env]
            environment: [LIBONLY, OS]
            volumes: [./data:/data, dbvol:/var]
            networks: [back]
        volumes:
          dbvol: {}
        networks:
          back: {}
    """,
    )
    write(tmp_path, "lib/.env", "TAG=lib\nLIBONLY=lib-env\n")
    write(tmp_path, "lib/db.env", "DBX=1\n")
    write(tmp_path, "lib2/a.yaml", "services:\n  cache:\n    image: busybox\n"
                                   "    volumes: [./c:/c]\n")  # fmt: skip
    write(tmp_path, "lib2/b.yaml", "services:\n  cache:\n    environment: {K: '${CUSTOM}'}\n")
    write(tmp_path, "lib2/custom.env", "CUSTOM=custom\n")
    project = load(tmp_path, environ={"OS": "os"})
    db, cache = project.services["db"], project.services["cache"]
    # The including project's variables win over the included one's .env.
    assert db["image"] == "busybox:main-lib-env"
    assert db["environment"] == {"DBX": "1", "LIBONLY": "lib-env", "OS": "os"}
    # Build args are resolved with the project's variables, as Compose does.
    assert db["build"] == {"context": str(tmp_path / "lib"), "dockerfile": "Dockerfile",
                           "args": {"OS": "os"}}  # fmt: skip
    assert db["volumes"][0]["source"] == str(tmp_path / "lib/data")
    assert project.networks["back"] == {"name": "demo_back"}
    assert project.volumes["dbvol"] == {"name": "demo_dbvol"}
    assert cache["environment"] == {"K": "custom"}
    assert cache["volumes"][0]["source"] == str(tmp_path / "elsewhere/c")


def test_included_files_resolve_extends_and_includes_from_their_directory(
    tmp_path: Path,
) -> None:
    write(tmp_path, "compose.yaml", "include: [stack/compose.yaml]\n")
    write(
        tmp_path,
        "stack/compose.yaml",
        """
        include: [parts/cache.yaml]
        services:
          api:
            extends: {file: parts/base.yaml, service: base}
    """,
    )
    write(tmp_path, "stack/parts/base.yaml", "services:\n  base:\n    image: api\n"
                                             "    volumes: [./conf:/conf]\n")  # fmt: skip
    write(tmp_path, "stack/parts/cache.yaml", "services:\n  cache:\n    image: busybox\n"
                                              "    volumes: [./data:/data]\n")  # fmt: skip
    project = load(tmp_path)
    assert project.services["api"]["volumes"][0]["source"] == str(tmp_path / "stack/parts/conf")
    assert project.services["cache"]["volumes"][0]["source"] == str(tmp_path / "stack/parts/data")


def test_identical_definitions_do_not_conflict(tmp_path: Path) -> None:
    write(
        tmp_path,
        "compose.yaml",
        """
        include: [lib/compose.yaml, lib/compose.yaml]
        services:
          db: {image: busybox}
        networks:
          shared: {}
    """,
    )
    write(
        tmp_path,
        "lib/compose.yaml",
        """
        services:
          db: {image: busybox}
          app: {image: busybox, networks: [shared]}
        networks:
          shared: {}
    """,
    )
    assert sorted(load(tmp_path).services) == ["app", "db"]


@pytest.mark.parametrize(
    ("kind", "mine", "theirs"),
    [
        ("services", "image: other", "image: busybox"),
        ("volumes", "labels: [a=b]", ""),
        ("networks", "driver: bridge", ""),
    ],
)
def test_a_resource_defined_twice_conflicts(
    tmp_path: Path, kind: str, mine: str, theirs: str
) -> None:
    services = "" if kind == "services" else "services: {web: {image: busybox}}\n"
    main = write(tmp_path, "compose.yaml", f"{services}include:\n  - lib/compose.yaml\n"
                                           f"{kind}:\n  thing: {{{mine}}}\n")  # fmt: skip
    write(tmp_path, "lib/compose.yaml", f"{kind}:\n  thing: {{{theirs}}}\n")
    error = failure(tmp_path)
    assert (error.file, error.line, error.key) == (str(main), 3 if services else 2, "include.0")
    assert error.message == f"{kind}.thing conflicts with imported resource"


def test_include_cycle(tmp_path: Path) -> None:
    main = write(tmp_path, "compose.yaml", "include: [lib/compose.yaml]\n")
    lib = write(tmp_path, "lib/compose.yaml", "include: [../compose.yaml]\n")
    error = failure(tmp_path)
    assert (error.file, error.key) == (str(lib), "include.0")
    assert error.message == f"include cycle detected:\n{main}\n include {lib}\n include {main}"


@pytest.mark.parametrize(
    ("include", "message"),
    [
        ("[nope.yaml]", "open {dir}/nope.yaml: no such file or directory"),
        ("[{path: lib.yaml, env_file: missing.env}]",
         "stat {dir}/missing.env: no such file or directory"),
        ("[{path: lib.yaml, env_file: sub}]", "{dir}/sub is not a file"),
        ("nope.yaml", "`include` must be a list, got nope.yaml"),
    ],
)  # fmt: skip
def test_include_errors(tmp_path: Path, include: str, message: str) -> None:
    main = write(tmp_path, "compose.yaml", f"services:\n  web: {{image: b}}\ninclude: {include}\n")
    write(tmp_path, "lib.yaml", "services:\n  db: {image: busybox}\n")
    (tmp_path / "sub").mkdir()
    error = failure(tmp_path)
    assert (error.file, error.line) == (str(main), 3)
    assert error.message == message.format(dir=tmp_path)


def test_override_file_merges_profiles_and_keeps_network_settings(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        services:
          a:
            image: busybox
            profiles: [p1]
            networks: {n: {aliases: [x]}}
        networks: {n: {}}
    """,
    )
    write(tmp_path, "b.yaml", "services:\n  a:\n    profiles: [p2]\n    networks: {n: null}\n")
    service = load(tmp_path, "a.yaml", "b.yaml", profiles=["p1"]).services["a"]
    assert service["profiles"] == ["p1", "p2"]
    assert service["networks"] == {"n": {"aliases": ["x"]}}


def test_bare_environment_name_takes_the_projects_value(tmp_path: Path) -> None:
    write(
        tmp_path,
        "compose.yaml",
        """
        services:
          a:
            image: busybox
            environment: [SET, UNSET]
    """,
    )
    environment = load(tmp_path, environ={"SET": "x"}).services["a"]["environment"]
    assert environment == {"SET": "x", "UNSET": None}
