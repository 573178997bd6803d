"""The Images panel: the Qt-free pieces (push progress, build input and output, history rows,
tag names, prune summaries) and the panel against a real engine — tag, remove (force asked),
prune, build through the dialog, history, save and load; push to a local registry."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.desktop import DesktopApp
from desktop_app.state.builds import (
    BuildConfigError,
    BuildOutput,
    BuildRequest,
    parse_build_args,
    parse_tags,
)
from desktop_app.state.image_details import (
    TagError,
    created_by,
    history_rows,
    needs_force,
    prune_summary,
    tag_target,
)
from desktop_app.state.pushes import PushProgress
from desktop_app.state.rows import image_rows, image_users, images_in_use
from desktop_app.views.images_panel import ImagesPanel
from tests.desktop.fakes import AnsweringPrompts, container
from tests.desktop.qtwait import finish
from tests.e2e.test_pull_push import PASSWORD, USER, Registry, needs_registry, registry
from tests.support.engine import DockerCLI, EngineProcess

__all__ = ["registry"]  # the module-scoped registry fixture of the CLI's push tests

# --- Qt-free pieces ------------------------------------------------------------------------


def test_push_progress_folds_dockerds_messages() -> None:
    progress = PushProgress("localhost:5000/desk/app:1")
    assert progress.summary() == "Pushing localhost:5000/desk/app:1…"
    progress.update({"status": "The push refers to repository [localhost:5000/desk/app]"})
    progress.update({"status": "Preparing", "id": "aaa"})
    progress.update({"status": "Preparing", "id": "bbb"})
    progress.update({"status": "Layer already exists", "id": "aaa"})
    progress.update(
        {"status": "Pushing", "id": "bbb", "progressDetail": {"current": 500, "total": 2000}}
    )
    assert progress.fraction == pytest.approx((1 + 0.25) / 2)
    assert [layer.text() for layer in progress.layers.values()] == [
        "aaa: Layer already exists",
        "bbb: Pushing 500B / 2kB",
    ]
    assert progress.summary().endswith("(2 layers)") and not progress.finished
    progress.update({"status": "Pushed", "id": "bbb", "progressDetail": {}})
    progress.update({"status": "1: digest: sha256:abc size: 527"})
    progress.update({"progressDetail": {}, "aux": {"Tag": "1", "Digest": "sha256:abc"}})
    assert progress.finished and progress.fraction == 1.0
    assert progress.summary() == "Pushed localhost:5000/desk/app:1: sha256:abc"
    failed = PushProgress("x:1")
    failed.update({"errorDetail": {"message": "denied"}, "error": "denied"})
    assert failed.finished and failed.summary() == "Error: denied"


def test_build_input_is_checked() -> None:
    env = {"FROM_ENV": "yes"}
    text = "A=1\n# comment\n\nB=two words\nFROM_ENV\nUNSET\n"
    assert parse_build_args(text, env) == {
        "A": "1", "B": "two words", "FROM_ENV": "yes", "UNSET": None,
    }  # fmt: skip
    with pytest.raises(BuildConfigError, match="line 1"):
        parse_build_args("A B=1", env)
    assert parse_tags("app:1, registry.example:5000/team/app:2 ") == [
        "app:1", "registry.example:5000/team/app:2",
    ]  # fmt: skip
    with pytest.raises(BuildConfigError, match="Upper"):
        parse_tags("Upper:1")
    with pytest.raises(BuildConfigError, match="choose a context"):
        BuildRequest(" ").to_options()
    request = BuildRequest("/ctx", dockerfile="docker/Dockerfile.dev", tags_text="a:1")
    assert request.dockerfile_path() == "/ctx/docker/Dockerfile.dev"
    assert BuildRequest("/ctx", dockerfile="/abs/Dockerfile").dockerfile_path() == "/abs/Dockerfile"
    options = BuildRequest("/ctx", tags_text="a:1", no_cache=True, environ={}).to_options()
    assert options.tags == ["a:1"] and options.no_cache and not options.pull


def test_build_output_keeps_steps_and_the_image() -> None:
    output = BuildOutput()
    assert output.update({"stream": "Step 1/2 : FROM busybox\n"}) == "Step 1/2 : FROM busybox\n"
    assert output.update({"status": "Downloading", "id": "x", "progressDetail": {"total": 9}}) == ""
    assert output.update({"status": "Pulling fs layer", "id": "x"}) == "x: Pulling fs layer\n"
    assert output.update({"aux": {"ID": "sha256:" + "c" * 64}}) == ""
    assert output.image_id == "sha256:" + "c" * 64
    assert output.summary(["app:1"]) == f"Built {'c' * 12}, tagged app:1"
    assert output.text.startswith("Step 1/2")


def test_history_tags_and_prunes() -> None:
    history = [
        {"Id": "sha256:" + "a" * 64, "Created": 1704067200, "Size": 1234,
         "CreatedBy": "/bin/sh -c #(nop)  LABEL x=y", "Comment": ""},
        {"Id": "<missing>", "Created": 1704067100, "Size": 4_190_000,
         "CreatedBy": "/bin/sh -c echo hi >   /f", "Comment": "buildkit.dockerfile.v0"},
    ]  # fmt: skip
    rows = history_rows(history)
    assert [(r.key, r.id, r.created_by, r.size) for r in rows] == [
        ("0", "a" * 12, "LABEL x=y", "1.23kB"),
        ("1", "<missing>", "/bin/sh -c echo hi > /f", "4.19MB"),
    ]
    assert created_by("") == ""
    assert tag_target("desk/copy") == ("desk/copy", "latest")
    assert tag_target(" localhost:5000/desk/copy:2 ") == ("localhost:5000/desk/copy", "2")
    for bad in ("", "a@sha256:" + "0" * 64, "UPPER:1"):
        with pytest.raises(TagError):
            tag_target(bad)
    answer = {"ImagesDeleted": [{"Untagged": "a:1"}, {"Deleted": "sha256:1"}], "SpaceReclaimed": 5}
    assert prune_summary("images", answer, "ImagesDeleted") == "Removed 1 image, reclaimed 5B"
    assert prune_summary("volumes", {"VolumesDeleted": ["a", "b"]}, "VolumesDeleted") == (
        "Removed 2 volumes, reclaimed 0B"
    )
    assert needs_force("conflict: unable to delete 1 (must be forced) - image is being used")
    assert not needs_force("conflict: unable to delete 1 (cannot be forced) - running container")


def test_image_rows_name_their_containers() -> None:
    image = "sha256:" + "b" * 64
    containers = [container("1" * 64, "web"), container("2" * 64, "api")]
    rows = image_rows(
        [{"Id": image, "RepoTags": ["busybox:latest"], "Size": 1}],
        images_in_use(containers),
        image_users(containers),
    )
    assert rows[0].in_use and rows[0].users == ("api", "web")


# --- the panel against a real engine --------------------------------------------------------


# The page the shared ``desktop`` fixture (conftest) opens.
DESKTOP_PAGE = "Images"


def tags(panel: ImagesPanel) -> list[str]:
    return panel.model.column_texts("Repository:Tag")


def select(panel: ImagesPanel, key: str) -> None:
    panel.table.clearSelection()
    row = tags(panel).index(key)
    panel.table.selectRow(row)


def build(qtbot: QtBot, panel: ImagesPanel, context: Path, tag: str, args: str = "") -> str:
    dialog = panel.open_build_dialog()
    dialog.context_edit.setText(str(context))
    dialog.tags_edit.setText(tag)
    dialog.args_edit.setPlainText(args)
    return str(finish(qtbot, dialog.start_build(), timeout=60))


@pytest.mark.e2e
def test_tag_remove_and_prune(
    qtbot: QtBot, desktop: DesktopApp, prompts: AnsweringPrompts, tmp_path: Path
) -> None:
    panel = desktop.window.images
    select(panel, "busybox:latest")
    prompts.text_answer = "desk/copy:1"
    finish(qtbot, panel.tag_selected())
    assert prompts.asked[-1] == ("Tag image", "New name for busybox:latest:")
    qtbot.waitUntil(lambda: "desk/copy:1" in tags(panel), timeout=3000)
    ids = panel.model.column_texts("ID")
    assert ids[tags(panel).index("desk/copy:1")] == ids[tags(panel).index("busybox:latest")]

    prompts.text_answer = "Not Valid"
    assert panel.tag_selected() is None
    qtbot.waitUntil(lambda: prompts.errors != [], timeout=3000)
    assert prompts.errors.pop()[0] == "Cannot tag"

    select(panel, "desk/copy:1")
    finish(qtbot, panel.remove_selected())
    assert prompts.asked[-1] == ("Remove images", "Remove desk/copy:1?")
    qtbot.waitUntil(lambda: "desk/copy:1" not in tags(panel), timeout=3000)
    assert "busybox:latest" in tags(panel)  # only the name went

    # Two builds under one tag leave the first image dangling.
    context = tmp_path / "ctx"
    context.mkdir()
    for version in ("1", "2"):
        (context / "Dockerfile").write_text(f"FROM busybox\nLABEL version={version}\n")
        build(qtbot, panel, context, "desk/dangle:1")
    qtbot.waitUntil(lambda: "<none>:<none>" in tags(panel), timeout=3000)
    prompts.confirm_answer = False
    assert panel.prune(all_unused=False) is None
    assert prompts.asked[-1] == ("Prune images", "Remove all dangling images?")
    prompts.confirm_answer = True
    summary = finish(qtbot, panel.prune(all_unused=False))
    assert summary.startswith("Removed 1 image, reclaimed ")
    assert panel.progress_text.text() == summary
    qtbot.waitUntil(lambda: "<none>:<none>" not in tags(panel), timeout=3000)
    assert "desk/dangle:1" in tags(panel)
    assert prompts.errors == []


@pytest.mark.e2e
def test_build_history_force_remove(
    qtbot: QtBot,
    desktop: DesktopApp,
    docker: DockerCLI,
    prompts: AnsweringPrompts,
    tmp_path: Path,
) -> None:
    panel = desktop.window.images
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\nARG GREETING\nCOPY hello.txt /hello.txt\nRUN echo $GREETING > /greeting\n"
    )
    (context / "hello.txt").write_text("from the context\n")
    dialog = panel.open_build_dialog()
    dialog.tags_edit.setText("desk/built:1")
    assert dialog.start_build() is None  # no context chosen
    assert "choose a context directory" in dialog.problem.text()

    image_id = build(qtbot, panel, context, "desk/built:1", "GREETING=hello-gui")
    assert image_id.startswith("sha256:")
    assert dialog.result_label.text() == f"Built {image_id[7:19]}, tagged desk/built:1"
    assert "Step 1/4 : FROM busybox" in dialog.output_text()
    assert "Successfully tagged desk/built:1" in dialog.output_text()
    qtbot.waitUntil(lambda: "desk/built:1" in tags(panel), timeout=3000)
    ran = docker("run", "--rm", "desk/built:1", "cat", "/greeting", "/hello.txt")
    assert ran.stdout == "hello-gui\nfrom the context\n"

    (context / "Dockerfile").write_text("FROM busybox\nRUN echo failing; exit 3\n")
    with pytest.raises(Exception, match="returned a non-zero code: 3"):
        build(qtbot, panel, context, "desk/broken:1")
    assert dialog.result_label.text().startswith("Error: ")
    assert "failing" in dialog.output_text()
    assert prompts.errors == []  # shown in the dialog, not in a second window
    dialog.reject()

    select(panel, "desk/built:1")
    history = panel.open_history()
    assert history is not None
    rows = finish(qtbot, history.task)
    steps = history.model.column_texts("Created by")
    assert any("echo $GREETING > /greeting" in step for step in steps)
    assert any(step.startswith("COPY ") for step in steps)
    assert len(rows) >= 4 and history.header.text().startswith("desk/built:1: ")
    history.reject()

    docker("create", "--name", "img-user", "desk/built:1", "true")
    try:
        qtbot.waitUntil(
            lambda: (
                panel.model.column_texts("In use")[tags(panel).index("desk/built:1")] == "in use"
            ),
            timeout=3000,
        )
        select(panel, "desk/built:1")
        asked = len(prompts.asked)
        refused = panel.remove_selected()
        assert refused is not None
        assert prompts.asked[asked] == (
            "Remove images",
            "Remove desk/built:1? Containers were made from it: img-user.",
        )
        # The engine wants force; the panel asks, and removes the name once told to.
        qtbot.waitUntil(lambda: len(prompts.asked) == asked + 2, timeout=3000)
        assert "must be forced" in prompts.asked[-1][1]
        assert prompts.asked[-1][1].endswith("Remove desk/built:1 anyway?")
        qtbot.waitUntil(lambda: "desk/built:1" not in tags(panel), timeout=3000)
        assert prompts.errors == []
    finally:
        docker("rm", "-f", "img-user", check=False)


@pytest.mark.e2e
def test_save_and_load(
    qtbot: QtBot, desktop: DesktopApp, docker: DockerCLI, tmp_path: Path
) -> None:
    panel = desktop.window.images
    docker("tag", "busybox:latest", "desk/saved:1")
    qtbot.waitUntil(lambda: "desk/saved:1" in tags(panel), timeout=3000)
    select(panel, "desk/saved:1")
    archive = tmp_path / "saved.tar"
    panel.choose_save_path = lambda _p, _t, name, _f: (
        archive if name == "desk_saved_1.tar" else None
    )
    size = finish(qtbot, panel.save_selected(), timeout=60)
    assert size == archive.stat().st_size > 0
    assert panel.progress_text.text() == f"Saved 1 image(s) to {archive}"
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == ["desk/saved:1"]
    assert not list(tmp_path.glob(".*.part"))

    docker("rmi", "desk/saved:1")
    qtbot.waitUntil(lambda: "desk/saved:1" not in tags(panel), timeout=3000)
    finish(qtbot, panel.load_from_file(archive), timeout=60)
    assert panel.progress_text.text() == "Loaded image: desk/saved:1"
    qtbot.waitUntil(lambda: "desk/saved:1" in tags(panel), timeout=3000)


# --- push to Debian's docker-registry -------------------------------------------------------


@pytest.mark.e2e
@needs_registry
def test_push_through_the_dialog(
    qtbot: QtBot,
    desktop: DesktopApp,
    engine: EngineProcess,
    registry: Registry,
    prompts: AnsweringPrompts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_dir = engine.root / "desktop-push-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    # An auths entry keeps the CLI from choosing a desktop keychain helper (it needs D-Bus).
    (config_dir / "config.json").write_text(json.dumps({"auths": {"placeholder.invalid": {}}}))
    cli = DockerCLI(engine.host, config_dir)
    cli("login", registry.address, "-u", USER, "--password-stdin", input=PASSWORD.encode())
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    monkeypatch.delenv("DOCKER_AUTH_CONFIG", raising=False)
    reference = f"{registry.address}/desk/pushed:1"
    cli("tag", "busybox:latest", reference)

    panel = desktop.window.images
    qtbot.waitUntil(lambda: reference in tags(panel), timeout=3000)
    select(panel, reference)
    assert panel.push_action.isEnabled()
    panel.push_action.trigger()
    dialog = panel.push_dialog
    assert dialog is not None and dialog.reference_edit.text() == reference
    values: list[int] = []
    dialog.bar.valueChanged.connect(values.append)
    progress = finish(qtbot, dialog.start(), timeout=60)
    assert progress.error == "" and progress.digest.startswith("sha256:")
    assert dialog.status_text.text() == f"Pushed {reference}: {progress.digest}"
    assert dialog.layer_texts() and all(
        text.endswith(("Pushed", "Layer already exists")) or "Mounted from" in text
        for text in dialog.layer_texts()
    )
    assert values[-1] == 1000
    assert prompts.errors == []

    # Pushing where the registry wants a login the config does not have: the registry's words.
    cli("logout", registry.address)
    dialog.reference_edit.setText(reference)
    task = dialog.start()
    qtbot.waitUntil(lambda: prompts.errors != [], timeout=30_000)
    assert task is not None and task.done()
    title, text = prompts.errors[-1]
    assert title == f"Could not push {reference}" and "Traceback" not in text
    assert dialog.status_text.text().startswith("Error: ")
