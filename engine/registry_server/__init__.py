"""A Distribution (v2) registry server: ``doca registry serve``.

Blobs and manifests are kept in the engine's content-addressed store; each repository keeps
an index of its tags, manifests and linked blobs.
"""

from engine.registry_server.app import create_app
from engine.registry_server.htpasswd import Htpasswd
from engine.registry_server.server import ServeConfig, check_exposure, parse_addr, run, serve
from engine.registry_server.state import RegistryState

__all__ = [
    "Htpasswd",
    "RegistryState",
    "ServeConfig",
    "check_exposure",
    "create_app",
    "parse_addr",
    "run",
    "serve",
]
