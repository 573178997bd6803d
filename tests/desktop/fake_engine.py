"""A stand-in for ``doca-engine`` that the supervisor tests start: it answers ``/_ping`` on a
unix socket and misbehaves on request (crashes, ignores SIGTERM, never gets ready).

Run as ``python fake_engine.py SOCKET [--die-after S] [--exit-code N] [--ignore-term]
[--never-ready] [--count-starts FILE]``."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from aiohttp import web


async def serve(args: argparse.Namespace) -> int:
    print(f"fake engine {os.getpid()} starting", flush=True)
    if args.count_starts:
        with open(args.count_starts, "a") as counter:
            counter.write("start\n")
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.never_ready:
        await asyncio.sleep(3600)
    app = web.Application()

    async def ping(_request: web.Request) -> web.Response:
        return web.Response(text="OK")

    app.router.add_get("/{tail:.*}", ping)
    runner = web.AppRunner(app)
    await runner.setup()
    Path(args.socket).unlink(missing_ok=True)
    await web.UnixSite(runner, args.socket).start()
    print("fake engine listening", flush=True)
    stop = asyncio.Event()
    if not args.ignore_term:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), args.die_after)
        print("fake engine stopping on SIGTERM", flush=True)
        return 0
    except TimeoutError:
        print(f"fake engine crashing with {args.exit_code}", flush=True)
        return args.exit_code
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("socket")
    parser.add_argument("--die-after", type=float, default=None)
    parser.add_argument("--exit-code", type=int, default=3)
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--never-ready", action="store_true")
    parser.add_argument("--count-starts")
    sys.exit(asyncio.run(serve(parser.parse_args())))


if __name__ == "__main__":
    main()
