"""Entry point of ``doca-desktop``: parse the command line, supervise the engine, show the
window, and run until Quit."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import QApplication

from desktop_app import aio
from desktop_app.desktop import DesktopApp
from desktop_app.engine_status import engine_argv
from desktop_app.engine_supervisor import EngineSupervisor
from desktop_app.state.autostart import launch_command
from desktop_app.state.settings import Settings, SettingsError, SettingsFiles, load_or_defaults

log = logging.getLogger(__name__)

OTHER_ENGINE = "the app starts only its local engine; this one is connected to"
NOT_ROOT = (
    "starting doca-engine needs root: run doca-desktop as root, or start the engine as a "
    "service (a pkexec prompt is not supported yet)"
)


def parse_args(
    argv: list[str] | None = None,
    settings: Settings | None = None,
    environ: Mapping[str, str] = os.environ,
) -> argparse.Namespace:
    """The command line; what it leaves out comes from the saved settings."""
    settings = settings or Settings()
    parser = argparse.ArgumentParser(
        prog="doca-desktop", description="The Doca desktop app and system tray."
    )
    local = settings.effective_host(environ)
    parser.add_argument(
        "--host",
        default=settings.active_host or local,
        help="the engine's socket, e.g. unix:///run/doca/doca.sock (default: the engine chosen "
        "last, else the one in Settings, else $DOCKER_HOST)",
    )
    parser.set_defaults(local_host=local)
    parser.add_argument(
        "--no-start-engine",
        action="store_true",
        default=not settings.start_engine,
        help="only connect to a running engine, never start one",
    )
    parser.add_argument("--data-root", type=Path, default=settings.effective_data_root())
    parser.add_argument("--exec-root", type=Path, default=Path("/run/doca"))
    parser.add_argument("--hidden", action="store_true", help="start in the tray only")
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def make_supervisor(args: argparse.Namespace, local_host: str | None = None) -> EngineSupervisor:
    """Starts the local engine when it is missing (as root); any other engine (a context
    the user switched to) is only connected to."""
    if local_host is not None and args.host != local_host:
        return EngineSupervisor(args.host, None, no_start_reason=OTHER_ENGINE)
    if args.no_start_engine:
        return EngineSupervisor(args.host, None, no_start_reason="--no-start-engine was given")
    if os.geteuid() != 0:
        return EngineSupervisor(args.host, None, no_start_reason=NOT_ROOT)
    return EngineSupervisor(args.host, engine_argv(args.host, args.data_root, args.exec_root))


async def run_desktop(
    app: QApplication, args: argparse.Namespace, files: SettingsFiles | None = None
) -> int:
    """Run the app until Quit; switching engines closes it and runs it again on the chosen
    one, which is remembered in the settings."""
    local_host = getattr(args, "local_host", args.host)
    hidden = args.hidden
    while True:
        desktop = DesktopApp(make_supervisor(args, local_host), local_host=local_host)
        aio.on_quit_signals(desktop.quit_requested.set)
        desktop.start()
        if not hidden or not desktop.tray.available:
            desktop.show()
        await desktop.run_until_quit()
        if desktop.switch_to is None:
            return 0
        args.host, hidden = desktop.switch_to, False
        if files is not None:
            await asyncio.to_thread(remember_engine, files, args.host, local_host)


def remember_engine(files: SettingsFiles, host: str, local_host: str) -> None:
    """Save the engine switched to as the one to use next time (the local one as "")."""
    settings, problem = load_or_defaults(files)
    if problem is not None:
        log.warning("%s; the engine switched to is not remembered", problem)
        return
    try:
        files.save(replace(settings, active_host="" if host == local_host else host),
                   launch_command())  # fmt: skip
    except SettingsError as exc:
        log.warning("cannot remember the engine: %s", exc)


def main(argv: list[str] | None = None) -> None:
    settings, problem = load_or_defaults(SettingsFiles.from_environ())
    args = parse_args(argv, settings)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if problem is not None:
        log.warning("%s; starting with the default settings", problem)
    files = SettingsFiles.from_environ()
    sys.exit(aio.run(lambda app: run_desktop(app, args, files), sys.argv[:1]))


if __name__ == "__main__":
    main()
