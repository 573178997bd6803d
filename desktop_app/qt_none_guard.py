"""A guard against a reference-counting bug of PySide6 6.12.0 on Python 3.11.

There, every call of a Qt method that returns nothing (``label.setText(…)``,
``app.processEvents()``, …) takes one reference away from ``None`` instead of none. Python 3.12
and later make ``None`` immortal, so they never notice; on 3.11 ``None`` starts with a few
thousand references and the process dies ("Fatal Python error: none_dealloc") after a few
thousand such calls — within seconds in a GUI. PySide6 6.11 does not have the bug.

``protect_none()`` checks for the bug with a throwaway QObject and, only if it is there, gives
``None`` so many references that it can never run out (as 3.12's immortality does). It must run
once, before the app makes many Qt calls.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject

_PLENTY = 1 << 60
_checked = False


def leaks_none() -> bool:
    """Whether Qt's void methods take references from None in this process."""
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(100):
        probe.setObjectName("probe")
    return sys.getrefcount(None) < before - 50


def protect_none() -> bool:
    """Make ``None`` effectively immortal if this PySide6 leaks its references; True if so."""
    global _checked
    if _checked or sys.version_info >= (3, 12):
        return False
    _checked = True
    if not leaks_none():
        return False
    # ob_refcnt is the first field of every object in CPython's (non-debug) layout.
    refcount = ctypes.c_ssize_t.from_address(id(None))
    refcount.value = max(refcount.value, 0) + _PLENTY
    return True
