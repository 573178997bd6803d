"""Packages whose ``__init__`` runs only when something asks it for a name.

aiohttp's ``__init__`` imports its whole client (and builds two TLS contexts, loading the
system's CA certificates) although the engine's server needs none of it until it pulls or
pushes; pyroute2's imports every netlink family it speaks although the engine uses rtnetlink
only. Both cost a good share of the engine's start-up time and of an idle engine's memory.

``defer_init(name)`` puts a stand-in for the package in ``sys.modules`` before anything imports
it: importing its submodules works as always (``from aiohttp import web``, ``from
pyroute2.iproute import IPRoute``), and the first lookup of any other name on the package
(``aiohttp.ClientSession``, ``from pyroute2 import IPRoute``) runs the real ``__init__`` into the
stand-in, so the package behaves exactly as if it had been imported normally, only later.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
from importlib.machinery import PathFinder
from typing import Any

_VERSION = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def defer_init(name: str) -> None:
    """Make ``name``'s ``__init__`` run on first use of one of its names (no-op if the package
    is imported already or not installed)."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)
    # Submodules read the version from the package (aiohttp's http.py does); reading it
    # from the source spares running the rest of ``__init__`` for it.
    if spec.origin:
        with open(spec.origin, encoding="utf-8") as source:
            found = _VERSION.search(source.read())
        if found:
            module.__version__ = found[1]  # type: ignore[attr-defined]
    lock = threading.RLock()
    started: list[bool] = []

    def __getattr__(attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__") and attr != "__all__":
            raise AttributeError(attr)
        if not started and PathFinder.find_spec(f"{name}.{attr}", module.__path__):
            # ``from package import submodule`` asks first; the import system takes this
            # error as its cue to import the submodule.
            raise AttributeError(attr)
        with lock:  # other threads wait here until ``__init__`` has run
            if not started:
                started.append(True)
                try:
                    spec.loader.exec_module(module)  # type: ignore[union-attr]
                except BaseException:
                    started.clear()
                    raise
                if module.__dict__.get("__getattr__") is __getattr__:
                    del module.__dict__["__getattr__"]
        if attr in module.__dict__:
            return module.__dict__[attr]
        own = module.__dict__.get("__getattr__")
        if own is not None and own is not __getattr__:
            return own(attr)  # the package's own lazy names
        # A name ``__init__`` does not set (or, while it runs, has not set yet: a submodule
        # still to import).
        raise AttributeError(f"module {name!r} has no attribute {attr!r}")

    module.__dict__["__getattr__"] = __getattr__
    sys.modules[name] = module
