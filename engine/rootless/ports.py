"""Published ports on a rootless engine.

Containers' ports are published inside the engine's network namespace, which the host's
loopback does not reach: forwarding from the host needs a port driver (a process in the
host's network namespace that listens for the engine, as rootlesskit's), which this engine
does not have yet. So a ``-p`` is refused at create, rather than accepted and unreachable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import InvalidParameter


def refuse_published_ports(host_config: Mapping[str, Any]) -> None:
    """Refuse a HostConfig that publishes ports (pure)."""
    bindings = host_config.get("PortBindings") or {}
    if host_config.get("PublishAllPorts") or any(bindings.values()):
        raise InvalidParameter(
            "publishing ports is not supported by the rootless engine yet: the host's "
            "loopback cannot reach the engine's network namespace (use --network host and "
            "reach the port from another container, or run the engine as root)"
        )
