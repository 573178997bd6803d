"""``doca-engine``: parse the flags, set up logging, run the daemon."""

from __future__ import annotations

import asyncio
import logging
import sys

from engine.config import load_config
from engine.deferred_init import defer_init
from engine.errors import EngineError
from engine.rootless.reexec import enter_user_namespace


def main(argv: list[str] | None = None) -> None:
    # Before anything imports them: their __init__ modules import what the engine needs only
    # for some requests (aiohttp's client, pyroute2's other netlink families).
    defer_init("aiohttp")
    defer_init("pyroute2")
    try:
        config = load_config(argv)
        if config.rootless:
            # Outside the user namespace this runs the engine inside it and exits.
            enter_user_namespace(sys.argv[1:] if argv is None else argv)
    except EngineError as exc:
        print(f"doca-engine: {exc.message}", file=sys.stderr)
        sys.exit(1)
    from engine.daemon import Engine, PidFile

    logging.basicConfig(
        level=config.python_log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # pyroute2 logs every netlink message at debug level.
    logging.getLogger("pyroute2").setLevel(max(logging.INFO, config.python_log_level))
    pidfile = PidFile(config.pidfile) if config.pidfile else None
    try:
        if pidfile:
            pidfile.acquire()
        asyncio.run(Engine(config).run())
    except EngineError as exc:
        logging.getLogger("doca.engine").error("%s", exc.message)
        sys.exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        if pidfile:
            pidfile.release()


if __name__ == "__main__":
    main()
