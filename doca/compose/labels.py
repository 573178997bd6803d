"""The labels and names by which Compose v2 finds the resources of a project; Doca writes the
same so that either tool manages what the other made."""

from __future__ import annotations

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"
WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"
ENVIRONMENT_FILE = "com.docker.compose.project.environment_file"
CONFIG_HASH = "com.docker.compose.config-hash"
VERSION = "com.docker.compose.version"
DEPENDS_ON = "com.docker.compose.depends_on"
IMAGE = "com.docker.compose.image"
# On images built by Compose: which builder made them ("classic" here).
IMAGE_BUILDER = "com.docker.compose.image.builder"
NETWORK = "com.docker.compose.network"
VOLUME = "com.docker.compose.volume"

# The Compose version Doca's names, labels and hashes follow.
COMPOSE_VERSION = "2.40.3"


def container_name(project: str, service: str, number: int) -> str:
    return f"{project}-{service}-{number}"


def project_filter(project: str) -> dict[str, list[str]]:
    return {"label": [f"{PROJECT}={project}"]}


def service_filter(project: str, service: str) -> dict[str, list[str]]:
    return {"label": [f"{PROJECT}={project}", f"{SERVICE}={service}", f"{ONEOFF}=False"]}
