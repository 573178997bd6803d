"""Crash consistency: the engine is killed (SIGKILL, through ``DOCA_FAULTS``) at each named
point in the middle of an operation; after a restart every object is whole or absent, what
was half-made is cleaned up, and the operation can be done again."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.faults import ENV, POINTS
from tests.reliability.summary import record
from tests.support.engine import DockerCLI, EngineProcess, short_root
from tests.support.testimage import TestImage

pytestmark = pytest.mark.reliability


@dataclass
class Crashed:
    """One engine on its own root: started clean, then armed with a fault."""

    process: EngineProcess
    docker: DockerCLI

    def arm(self, point: str) -> None:
        self.process.stop()
        self.process.env = {ENV: point}
        self.process.start()

    def expect_death(self, action: Callable[[], object]) -> None:
        action()
        assert self.process.proc is not None
        code = self.process.proc.wait(30)
        assert code == -signal.SIGKILL, f"the engine did not die at the fault: {code}"
        self.process.proc = None

    def restart(self) -> None:
        self.process.env = {}
        self.process.start()

    def listed(self, *args: str) -> list[str]:
        return self.docker(*args).stdout.split()


@pytest.fixture
def crashed(test_image: TestImage) -> Iterator[Crashed]:
    root = short_root()
    process = EngineProcess(root)
    process.start()
    config = root / "docker-config"
    config.mkdir()
    docker = DockerCLI(process.host, config, process.last_error)
    docker("load", "-i", str(test_image.save_tar))
    try:
        yield Crashed(process, docker)
    finally:
        process.stop(signal.SIGKILL)
        process.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def no_scratch_left(process: EngineProcess) -> None:
    for scratch in (process.data_root / "tmp", process.data_root / "content" / "ingest"):
        leftovers = [p.name for p in scratch.iterdir()] if scratch.exists() else []
        assert not leftovers, leftovers


def scenario_image_before_record(c: Crashed, tmp: Path) -> str:
    c.docker("run", "--name", "src", "busybox", "sh", "-c", "echo x > /x")
    images = c.listed("images", "-aq")
    c.arm("image.before-record")
    c.expect_death(lambda: c.docker("commit", "src", "committed:1", check=False))
    c.restart()
    assert c.listed("images", "-aq") == images  # no half-made image is listed
    c.docker("commit", "src", "committed:1")
    assert c.docker("run", "--rm", "committed:1", "cat", "/x").stdout == "x\n"
    return "commit killed before the image record: no image listed; commit again works"


def scenario_image_before_tag(c: Crashed, tmp: Path, test_image: TestImage) -> str:
    c.docker("rmi", "busybox")
    c.arm("image.before-tag")
    c.expect_death(lambda: c.docker("load", "-i", str(test_image.save_tar), check=False))
    c.restart()
    # the image is whole (its record is written) but untagged, as dockerd leaves it
    assert c.listed("images", "--format", "{{.Repository}}") in ([], ["<none>"])
    c.docker("load", "-i", str(test_image.save_tar))
    assert c.docker("run", "--rm", "busybox", "echo", "ok").stdout == "ok\n"
    return "load killed before tagging: image whole and untagged; load again tags it"


def scenario_container_before_config(c: Crashed, tmp: Path) -> str:
    c.arm("container.before-config")
    c.expect_death(lambda: c.docker("create", "--name", "half", "busybox", check=False))
    c.restart()
    assert c.listed("ps", "-aq") == []
    assert not list((c.process.data_root / "containers").iterdir())
    c.docker("create", "--name", "half", "busybox")  # the name is free
    return "create killed before config.json: nothing listed, directory gone, name free"


def scenario_container_mid_remove(c: Crashed, tmp: Path) -> str:
    c.docker("create", "--name", "gone", "busybox")
    c.arm("container.mid-remove")
    c.expect_death(lambda: c.docker("rm", "gone", check=False))
    c.restart()
    assert c.listed("ps", "-aq") == []
    assert not list((c.process.data_root / "containers").iterdir())
    c.docker("create", "--name", "gone", "busybox")
    return "rm killed half-way: not listed, directory gone, name free"


def scenario_volume_before_record(c: Crashed, tmp: Path) -> str:
    c.arm("volume.before-record")
    c.expect_death(lambda: c.docker("volume", "create", "v1", check=False))
    c.restart()
    assert c.listed("volume", "ls", "-q") == []
    assert not (c.process.data_root / "volumes" / "v1").exists()
    c.docker("volume", "create", "v1")
    assert c.listed("volume", "ls", "-q") == ["v1"]
    return "volume create killed before its record: not listed, cleaned, create again works"


def scenario_build_before_commit(c: Crashed, tmp: Path) -> str:
    (tmp / "Dockerfile").write_text("FROM busybox\nRUN echo built > /b\n")
    images = c.listed("images", "-aq")
    c.arm("build.before-commit")
    build = ("build", "--network", "none", "-t", "built", str(tmp))
    c.expect_death(lambda: c.docker(*build, check=False))
    c.restart()
    assert c.listed("ps", "-aq") == []  # the step's container went with the build
    assert c.listed("images", "-aq") == images
    c.docker(*build)
    assert c.docker("run", "--rm", "built", "cat", "/b").stdout == "built\n"
    return "build killed between RUN and commit: step container removed, rebuild works"


# point -> what to do there, and what must hold after the restart
SCENARIOS: dict[str, Callable[..., str]] = {
    "image.before-record": scenario_image_before_record,
    "image.before-tag": scenario_image_before_tag,
    "container.before-config": scenario_container_before_config,
    "container.mid-remove": scenario_container_mid_remove,
    "volume.before-record": scenario_volume_before_record,
    "build.before-commit": scenario_build_before_commit,
}


def test_every_point_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(POINTS)


@pytest.mark.parametrize("point", SCENARIOS)
def test_crash_at_point(
    point: str, crashed: Crashed, tmp_path: Path, test_image: TestImage
) -> None:
    scenario = SCENARIOS[point]
    kwargs = {"test_image": test_image} if "test_image" in scenario.__code__.co_varnames else {}
    outcome = scenario(crashed, tmp_path, **kwargs)
    no_scratch_left(crashed.process)
    assert crashed.docker("info", "--format", "{{.ServerVersion}}").stdout.strip()
    record("faults injected", point, outcome)
