"""``compose config``: the loaded project printed as Compose v2 prints it (YAML by default,
``--format json`` too), with ``$`` escaped back to ``$$``."""

from __future__ import annotations

import json
from typing import Any

import yaml

from doca.compose.project import Project
from doca.compose.service import NETWORK_KEYS
from doca.compose.service_hash import json_shape

# Strings that Go's YAML encoder quotes because YAML 1.1 readers take them for booleans.
_YAML11_WORDS = {"y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON",
                 "off", "Off", "OFF"}  # fmt: skip


def project_document(project: Project, for_yaml: bool) -> dict[str, Any]:
    """The project as Compose's model marshals it; YAML leaves out what Go's ``omitempty``
    drops (null commands, an empty ipam), JSON keeps it."""
    services = {name: _escaped(_service(svc, for_yaml)) for name, svc in
                sorted(project.services.items())}  # fmt: skip
    networks = {}
    for name, network in project.networks.items():
        network = dict(network)
        if not for_yaml:
            network.setdefault("ipam", {})  # no omitempty on ipam in Compose's JSON tags
            network = {key: network[key] for key in NETWORK_KEYS if key in network}
        networks[name] = network
    document: dict[str, Any] = {"name": project.name, "services": services}
    if networks:
        document["networks"] = networks
    if project.volumes:
        document["volumes"] = project.volumes
    if project.secrets:
        document["secrets"] = _escaped(project.secrets)
    if project.configs:
        document["configs"] = _escaped(project.configs)
    # YAML follows the Project struct's field order; JSON's map keys come sorted.
    return document if for_yaml else dict(sorted(document.items()))


def _service(service: dict[str, Any], for_yaml: bool) -> dict[str, Any]:
    if for_yaml:
        return {k: v for k, v in service.items() if v is not None}
    return json_shape(service)


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


def to_json(project: Project) -> str:
    return json.dumps(project_document(project, for_yaml=False), indent=2)


class _Dumper(yaml.SafeDumper):
    """Block style with sequences indented under their key, as Go's yaml.v3 writes them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    resolved = dumper.resolve(yaml.ScalarNode, value, (True, False))
    if resolved != "tag:yaml.org,2002:str" or value in _YAML11_WORDS or value == "":
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _represent_none(dumper: yaml.SafeDumper, _: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "null")


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(type(None), _represent_none)


def to_yaml(project: Project) -> str:
    return yaml.dump(
        project_document(project, for_yaml=True),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
        indent=2,
    )
