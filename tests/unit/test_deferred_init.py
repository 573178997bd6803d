"""A package whose ``__init__`` runs on first use of one of its names, not on the import of
one of its submodules."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.deferred_init import defer_init

PACKAGE = "doca_deferred_probe"

INIT = """
__version__ = "1.2.3"
import sys
RUNS = sys.modules.setdefault("doca_deferred_probe_runs", type(sys)("runs"))
RUNS.count = getattr(RUNS, "count", 0) + 1
from . import heavy
from .heavy import HEAVY
NAME = "from init"

def __getattr__(name):
    if name == "LAZY":
        return "the package's own lazy name"
    raise AttributeError(name)
"""


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    root = tmp_path / PACKAGE
    root.mkdir()
    (root / "__init__.py").write_text(INIT)
    (root / "light.py").write_text("from . import __version__ as VERSION\nfrom . import leaf\n")
    (root / "leaf.py").write_text("LEAF = 1\n")
    (root / "heavy.py").write_text("HEAVY = 'heavy'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in [n for n in sys.modules if n.startswith(PACKAGE)]:
        del sys.modules[name]


def init_runs() -> int:
    runs = sys.modules.get(f"{PACKAGE}_runs")
    return int(getattr(runs, "count", 0))


def test_submodules_import_without_running_init(package: None) -> None:
    defer_init(PACKAGE)
    from doca_deferred_probe import light

    assert light.VERSION == "1.2.3"  # read from the source, not from running __init__
    assert light.leaf.LEAF == 1
    assert init_runs() == 0
    assert f"{PACKAGE}.heavy" not in sys.modules


def test_first_other_name_runs_init_once(package: None) -> None:
    defer_init(PACKAGE)
    import doca_deferred_probe
    from doca_deferred_probe import light

    assert doca_deferred_probe.NAME == "from init"
    from doca_deferred_probe import HEAVY

    assert HEAVY == "heavy"
    assert doca_deferred_probe.light is light  # the submodule imported before is kept
    assert doca_deferred_probe.LAZY == "the package's own lazy name"
    with pytest.raises(AttributeError):
        _ = doca_deferred_probe.missing
    assert init_runs() == 1


def test_threads_wait_for_one_init(package: None) -> None:
    defer_init(PACKAGE)
    module = sys.modules[PACKAGE]
    seen: list[str] = []
    threads = [threading.Thread(target=lambda: seen.append(module.NAME)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == ["from init"] * 8
    assert init_runs() == 1


def test_no_effect_on_imported_or_missing_packages(package: None) -> None:
    import doca_deferred_probe

    defer_init(PACKAGE)
    assert sys.modules[PACKAGE] is doca_deferred_probe
    defer_init("doca_no_such_package")
    assert "doca_no_such_package" not in sys.modules
