"""Run by ``test_rootless_supervisor`` as an unprivileged user: the supervisor that
``doca-desktop`` builds from its command line and settings starts the engine in the user's
default mode. Prints one JSON line once the engine is running (or failed), waits for a line on
stdin, stops the engine, and prints one more JSON line.

    python rootless_probe.py [doca-desktop options]
"""

from __future__ import annotations

import asyncio
import json
import sys

from desktop_app.engine_status import EngineState, EngineStatus
from desktop_app.main import make_supervisor, parse_args
from desktop_app.state.settings import SettingsFiles, load_or_defaults


def report(status: EngineStatus, **extra: object) -> None:
    print(json.dumps({"state": status.state.value, "mode": status.mode, "pid": status.pid,
                      "start_seconds": status.start_seconds, "reason": status.reason,
                      "summary": status.summary(), **extra}), flush=True)  # fmt: skip


async def main(argv: list[str]) -> int:
    files = SettingsFiles.from_environ()
    settings, _problem = load_or_defaults(files)
    args = parse_args(argv, settings)
    supervisor = make_supervisor(args, args.local_host, files)
    try:
        supervisor.start()
        status = await supervisor.wait_for(EngineState.RUNNING, EngineState.ERROR, timeout=60)
        report(status, host=args.host, log=supervisor.log_tail(40))
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        await supervisor.stop()
        report(supervisor.status)
    finally:
        await supervisor.aclose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
