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
from desktop_app.engine_launch import plan_launch
from desktop_app.engine_status import EngineLaunch, LaunchError
from desktop_app.engine_supervisor import EngineSupervisor
from desktop_app.state.autostart import launch_command
from desktop_app.state.engine_mode import (
    EngineMode,
    Platform,
    current_platform,
    default_local_host,
)
from desktop_app.state.settings import Settings, SettingsError, SettingsFiles, load_or_defaults

log = logging.getLogger(__name__)

OTHER_ENGINE = "the app starts only its local engine; this one is connected to"


def parse_args(
    argv: list[str] | None = None,
    settings: Settings | None = None,
    environ: Mapping[str, str] = os.environ,
    here: Platform | None = None,
) -> argparse.Namespace:
    """The command line; what it leaves out comes from the saved settings."""
    settings = settings or Settings()
    here = here or current_platform()
    parser = argparse.ArgumentParser(
        prog="doca-desktop", description="The Doca desktop app and system tray."
    )
    local = settings.effective_host(environ, default_local_host(here.system, here.euid, environ))
    parser.add_argument(
        "--host",
        default=settings.active_host or local,
        help="the engine's socket, e.g. unix:///run/doca/doca.sock (default: the engine chosen "
        "last, else the one in Settings, else $DOCKER_HOST)",
    )
    parser.set_defaults(local_host=local, settings=settings, platform=here)
    parser.add_argument(
        "--engine-mode",
        type=EngineMode,
        choices=list(EngineMode),
        help="how the app starts its engine: native (as root), rootless (as you, on Linux) or "
        "vm (in a Linux VM) (default: the one in Settings, else native for root on Linux, "
        "rootless for other users there, vm elsewhere)",
    )
    parser.add_argument(
        "--no-start-engine",
        action="store_true",
        default=not settings.start_engine,
        help="only connect to a running engine, never start one",
    )
    # Root's engine keeps its data in /var/lib/doca; a user's (rootless) in its XDG data
    # directory, which the engine finds itself.
    as_root = here.system == "Linux" and here.euid == 0
    chosen_root = Path(settings.data_root) if settings.data_root else None
    data_root = settings.effective_data_root() if as_root else chosen_root
    parser.add_argument("--data-root", type=Path, default=data_root)
    parser.add_argument("--exec-root", type=Path, default=Path("/run/doca"))
    parser.add_argument("--hidden", action="store_true", help="start in the tray only")
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def make_supervisor(
    args: argparse.Namespace, local_host: str | None = None, files: SettingsFiles | None = None
) -> EngineSupervisor:
    """Starts the local engine when it is missing, in the mode of ``--engine-mode``, else of
    the settings (read again from ``files`` at each start, so a mode chosen in Settings
    applies at the next engine start); any other engine (a context the user switched to) is
    only connected to."""
    if local_host is not None and args.host != local_host:
        return EngineSupervisor(args.host, None, no_start_reason=OTHER_ENGINE)
    if args.no_start_engine:
        return EngineSupervisor(args.host, None, no_start_reason="--no-start-engine was given")
    here: Platform = getattr(args, "platform", None) or current_platform()
    loaded: Settings = getattr(args, "settings", None) or Settings()
    chosen: EngineMode | None = getattr(args, "engine_mode", None)

    def plan() -> EngineLaunch:
        settings = loaded if files is None else settings_now(files, loaded)
        mode = chosen or settings.mode(here.system, here.euid)
        try:
            vm = settings.vm_options() if mode is EngineMode.VM else None
        except ValueError as exc:
            raise LaunchError(f"the VM's settings cannot be used: {exc}", mode.value) from exc
        return plan_launch(mode, args.host, here, data_root=args.data_root,
                           exec_root=args.exec_root, vm_options=vm)  # fmt: skip

    mode = chosen or loaded.mode(here.system, here.euid)
    return EngineSupervisor(args.host, None, launch=plan, mode=mode.value)


def settings_now(files: SettingsFiles, fallback: Settings) -> Settings:
    """The saved settings as they are now; ``fallback`` when they cannot be read."""
    settings, problem = load_or_defaults(files)
    if problem is not None:
        log.warning("%s; the engine starts with the settings the app started with", problem)
        return fallback
    return settings


async def run_desktop(
    app: QApplication, args: argparse.Namespace, files: SettingsFiles | None = None
) -> int:
    """Run the app until Quit; switching engines closes it and runs it again on the chosen
    one, which is remembered in the settings."""
    local_host = getattr(args, "local_host", args.host)
    hidden = args.hidden
    while True:
        desktop = DesktopApp(make_supervisor(args, local_host, files), local_host=local_host)
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
