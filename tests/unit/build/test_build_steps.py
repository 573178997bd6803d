"""The pure parts of the build steps: COPY/ADD planning and WORKDIR (engine.build.file_steps),
a RUN's history text and container (engine.build.run_step), and what a stage's variables mean
(engine.build.stage)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.build.dockerfile import parse, parse_flags
from engine.build.file_steps import CopyPlan, find_sources, plan_copy, workdir_path
from engine.build.options import BuildOptions
from engine.build.run_step import container_body, created_by
from engine.build.stage import DEFAULT_SHELL, Stage
from engine.build.words import Words
from engine.errors import InvalidParameter, NotFound
from engine.images.store import ImageRecord

COPY_FLAGS: dict[str, type] = {"from": str, "chown": str, "chmod": str, "link": bool}
SH = ["/bin/sh", "-c"]


def plan(line: str, **env: str) -> tuple[CopyPlan, list[str]]:
    inst = parse(line).instructions[0]
    return plan_copy(inst, Words(inst.escape, env), parse_flags(inst, COPY_FLAGS))


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    for name in ["a.txt", "b.txt", "c.md", "dir/sub/one"]:
        path = tmp_path / "ctx" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return tmp_path / "ctx"


# plan_copy


def test_plan_copy_substitutes_words_and_flags() -> None:
    copy, patterns = plan(
        "COPY --from=$STAGE --chown=${USER}:grp --chmod=755 $SRC b.txt /app/", STAGE="build",
        USER="app", SRC="a.txt",
    )  # fmt: skip
    assert patterns == ["a.txt", "b.txt"]
    assert (copy.keyword, copy.dest, copy.from_) == ("COPY", "/app/", "build")
    assert (copy.chown, copy.chmod) == ("app:grp", 0o755)
    assert copy.sources == [] and not copy.extract


def test_plan_copy_json_form_and_add() -> None:
    copy, patterns = plan('ADD ["with space.txt", "$D"]', D="/dest dir/")
    assert patterns == ["with space.txt"]
    assert copy.dest == "/dest dir/"
    assert copy.extract and copy.chmod is None and copy.chown == "" and copy.from_ == ""


def test_plan_copy_leaves_here_documents_out_of_the_patterns() -> None:
    copy, patterns = plan("COPY <<EOF a.txt /etc/\nhello\nEOF")
    assert patterns == ["a.txt"]
    assert [(h.name, h.content) for h in copy.heredocs] == [("EOF", "hello\n")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("COPY https://example.com/f /d", "source can't be a URL for COPY"),
        ("ADD https://example.com/f.tgz /d", "remote URL"),
        ("ADD git@github.com:moby/moby.git /src", "remote URL"),
        ("ADD github.com/moby/moby /src", "remote URL"),
        ("COPY $UNSET /d", "requires at least two arguments"),
        ("COPY --chmod=u+x a /d", "invalid chmod parameter"),
    ],
)
def test_plan_copy_refuses(line: str, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        plan(line)


# find_sources and the history text


def test_find_sources_matches_and_checksums(ctx: Path) -> None:
    copy, patterns = plan("COPY *.txt /d/")
    digest = find_sources(copy, ctx, patterns)
    assert copy.sources == ["a.txt", "b.txt"]
    assert digest.startswith("sha256:") and len(digest) == 71
    again, _ = plan("COPY *.txt /d/")
    assert find_sources(again, ctx, patterns) == digest
    (ctx / "b.txt").write_text("changed")
    assert find_sources(again, ctx, patterns) != digest


def test_find_sources_digest_covers_here_documents(ctx: Path) -> None:
    first, patterns = plan("COPY <<EOF /f\none\nEOF")
    second, _ = plan("COPY <<EOF /f\ntwo\nEOF")
    assert patterns == []
    assert find_sources(first, ctx, []) != find_sources(second, ctx, [])
    assert first.sources == []


def test_find_sources_from_a_directory(ctx: Path) -> None:
    copy, patterns = plan("COPY dir /d")
    find_sources(copy, ctx, patterns)
    assert copy.sources == ["dir"]


@pytest.mark.parametrize(
    ("line", "error", "message"),
    [
        ("COPY *.txt /d", InvalidParameter, "more than one source file, the destination must"),
        ("COPY a.txt c.md /d", InvalidParameter, "must be a directory and end with a /"),
        ("COPY <<EOF a.txt /f\nx\nEOF", InvalidParameter, "more than one source"),
        ("COPY missing.txt /d", NotFound, "file not found in build context"),
        ("COPY *.nothing /d/", InvalidParameter, "no source files were specified"),
    ],
)
def test_find_sources_refuses(ctx: Path, line: str, error: type[Exception], message: str) -> None:
    copy, patterns = plan(line)
    with pytest.raises(error, match=message):
        find_sources(copy, ctx, patterns)


@pytest.mark.parametrize("dest", ["/d/", "/d/.", "d/"])
def test_several_sources_into_a_directory(ctx: Path, dest: str) -> None:
    copy, patterns = plan(f"COPY a.txt b.txt {dest}")
    find_sources(copy, ctx, patterns)
    assert copy.sources == ["a.txt", "b.txt"]


def test_describe_as_the_classic_builder() -> None:
    copy, _ = plan("COPY a.txt /app/a.txt")
    copy.sources = ["a.txt"]
    assert copy.describe("sha256:abc") == "COPY file:abc in /app/a.txt "
    copy, _ = plan("ADD --chown=1000:1000 a.txt rel/")
    copy.sources = ["a.txt"]
    assert copy.describe("sha256:abc") == "ADD --chown=1000:1000 file:abc in rel/ "
    copy, _ = plan("COPY --chmod=0640 a.txt /a")
    copy.sources = ["a.txt"]
    assert copy.describe("sha256:abc") == "COPY --chmod=640 file:abc in /a "


def test_describe_several_sources_as_multi() -> None:
    copy, _ = plan("COPY a.txt b.txt /d/")
    copy.sources = ["a.txt", "b.txt"]
    assert copy.describe("sha256:abc") == "COPY multi:abc in /d/ "


# WORKDIR


@pytest.mark.parametrize(
    ("current", "given", "expected"),
    [
        ("", "/a", "/a"),
        ("", "a", "/a"),
        ("/", "a", "/a"),
        ("/a", "b", "/a/b"),
        ("/a", "/b", "/b"),
        ("/a/b", "../..", "/"),
        ("/a", "../../..", "/"),
        ("/a", "./b/../c/", "/a/c"),
        ("/a", ".", "/a"),
        pytest.param(
            "/", "//srv", "/srv",
        ),
    ],
)  # fmt: skip
def test_workdir_path(current: str, given: str, expected: str) -> None:
    assert workdir_path(current, given) == expected


def test_workdir_path_refuses_nothing() -> None:
    with pytest.raises(InvalidParameter, match="WORKDIR requires exactly one argument"):
        workdir_path("/a", "")


# Stage variables


def test_stage_defaults() -> None:
    stage = Stage(0, "", "scratch")
    assert stage.shell == DEFAULT_SHELL == SH
    assert stage.env == {} and stage.image_id == ""
    assert stage.expansion_env() == {} and stage.run_args() == {}


def test_expansion_env_env_overrides_arg() -> None:
    stage = Stage(
        0, "", "base",
        config={"Env": ["A=from-env", "EMPTY=", "EQ=x=y"]},
        args={"A": "from-arg", "B": "arg-only", "NOVALUE": None},
    )  # fmt: skip
    assert stage.env == {"A": "from-env", "EMPTY": "", "EQ": "x=y"}
    assert stage.expansion_env() == {
        "A": "from-env", "B": "arg-only", "EMPTY": "", "EQ": "x=y",
    }  # fmt: skip
    # A RUN gets the build args ENV does not shadow, and none without a value.
    assert stage.run_args() == {"B": "arg-only"}


def test_set_env_replaces_a_variable() -> None:
    stage = Stage(0, "", "base", config={"Env": ["A=1", "AB=2"]})
    stage.set_env("A", "3")
    stage.set_env("C", "4")
    assert stage.env == {"A": "3", "AB": "2", "C": "4"}
    assert len(stage.config["Env"]) == 3


# RUN's history text and container


def test_created_by_without_build_args() -> None:
    stage = Stage(0, "", "base", config={"Env": ["A=1"]}, args={"A": "shadowed", "N": None})
    assert created_by(stage, [*SH, "echo hi"]) == "/bin/sh -c echo hi"
    assert created_by(stage, ["echo", "exec form"]) == "echo exec form"


def test_created_by_lists_build_args_first() -> None:
    stage = Stage(0, "", "base", args={"VERSION": "1.0", "APP": "web", "NONE": None})
    assert created_by(stage, [*SH, "make"]) == "|2 APP=web VERSION=1.0 /bin/sh -c make"


def test_created_by_sorts_as_dockerd() -> None:
    stage = Stage(0, "", "base", args={"V": "a", "V1": "b"})
    assert created_by(stage, ["true"]) == "|2 V1=b V=a true"


def test_container_body() -> None:
    image = ImageRecord(id="sha256:" + "a" * 64, diff_ids=[], size=0, created_at=0.0)
    stage = Stage(
        0, "", "base", image=image,
        config={
            "Env": ["PATH=/bin", "A=env"], "WorkingDir": "/src", "User": "app",
            "Volumes": {"/data": {}}, "Cmd": ["ignored"], "Entrypoint": ["/ignored"],
            "Healthcheck": {"Test": ["CMD", "true"]},
        },
        args={"A": "arg", "B": "2"},
    )  # fmt: skip
    body = container_body(stage, [*SH, "make"], BuildOptions(memory=64 << 20))
    assert body["Image"] == image.id
    assert body["Cmd"] == [*SH, "make"]
    assert body["Entrypoint"] == []
    assert body["Env"] == ["PATH=/bin", "A=env", "B=2"]
    assert (body["WorkingDir"], body["User"]) == ("/src", "app")
    assert body["Volumes"] == {"/data": {}}
    assert body["Healthcheck"] == {"Test": ["NONE"]}
    assert body["AttachStdout"] and body["AttachStderr"]
    assert body["HostConfig"] == {"NetworkMode": "default", "Memory": 64 << 20}
    assert stage.config["Env"] == ["PATH=/bin", "A=env"]  # the stage is left alone


def test_container_body_with_an_empty_config() -> None:
    body = container_body(Stage(0, "", "base"), ["true"], BuildOptions())
    assert (body["Env"], body["WorkingDir"], body["User"], body["Volumes"]) == ([], "", "", None)
