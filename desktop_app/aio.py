"""The one place where Qt and asyncio meet: qasync's ``QEventLoop`` runs asyncio on the Qt event
loop, so coroutines and widgets share one thread and widgets are only touched from it."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, cast

import qasync
import shiboken6
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

from desktop_app.qt_none_guard import protect_none

Main = Callable[[QApplication], Coroutine[Any, Any, int | None]]


def application(argv: Sequence[str] = ()) -> QApplication:
    """The QApplication (made once). Quitting is the app's decision, not the last window's:
    the tray keeps running when the window is closed."""
    protect_none()
    app = cast(QApplication | None, QApplication.instance()) or QApplication(list(argv))
    app.setQuitOnLastWindowClosed(False)
    return app


def run(main: Main, argv: Sequence[str] = ()) -> int:
    """Run ``main(app)`` on a qasync loop until it returns; its result is the exit status."""
    app = application(argv)
    return qasync.run(main(app)) or 0


def on_quit_signals(callback: Callable[[], None]) -> None:
    """Call ``callback`` on SIGINT/SIGTERM. Python signal handlers would wait for Python code
    to run, which may be never while Qt waits for events; the loop's handlers wake it up."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, callback)
        except (NotImplementedError, RuntimeError):
            signal.signal(sig, lambda *_: callback())


def attach(app: QApplication) -> asyncio.AbstractEventLoop:
    """A qasync loop on an application whose event loop is driven by someone else (pytest-qt's
    ``qtbot.wait*``, an embedding host): asyncio work runs whenever Qt processes events."""
    protect_none()
    return cast(asyncio.AbstractEventLoop, qasync.QEventLoop(app, already_running=True))


def detach(loop: asyncio.AbstractEventLoop) -> None:
    """Undo ``attach``: the loop stops being the thread's running loop and is closed.

    Not through ``loop.stop()``: that calls ``QApplication.exit()``, which, with no
    ``exec()`` running, leaves Qt's quit flag set, so every later nested event loop (a modal
    dialog, ``qtbot.wait``) returns at once without processing events."""
    asyncio.events._set_running_loop(None)
    loop._QEventLoop__is_running = False  # type: ignore[attr-defined]  # qasync's own flag
    timer = loop._timer  # type: ignore[attr-defined]
    signaller = loop._QEventLoop__call_soon_signaller  # type: ignore[attr-defined]
    loop.close()
    _destroy_here(timer, signaller)


def _destroy_here(timer: QObject, signaller: QObject) -> None:
    """Destroy a closed loop's Qt objects now, on their own thread.

    qasync leaves them to Python's garbage collector, which runs on whichever thread is
    allocating at the time, the executor's workers included. A QObject destroyed off its thread
    cannot unregister its timers, and the event dispatcher later fires one into freed memory.
    So the timers are killed and both objects deleted here."""
    callbacks = timer._SimpleTimer__callbacks  # type: ignore[attr-defined]  # qasync's own
    for timer_id in list(callbacks):
        timer.killTimer(timer_id)
    callbacks.clear()
    shiboken6.delete(timer)
    shiboken6.delete(signaller)
