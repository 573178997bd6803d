"""Running the host's ``ps`` for ``docker top`` (the only reason the engine spawns ps).

dockerd runs ``ps <args> -q<pid,…>`` so ps itself narrows the list to the container, and when ps
rejects ``-q`` next to the user's options (BSD ``f``, ``-C`` …) runs ``ps <args>`` again and
leaves the filtering to the parser. Both runs happen here; choosing the arguments and reading
the output is pure code in ``engine.containers.top``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from engine.errors import SystemError_

PS = "ps"


def _ps(args: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [PS, *args], stdin=subprocess.DEVNULL, capture_output=True, check=False, timeout=30
    )


def run_ps(args: Sequence[str], pids: Sequence[int] = ()) -> str:
    """The output of ``ps <args>``, limited to ``pids`` when ps accepts ``-q`` (blocking).

    Raises SystemError_ with ps's first line of complaint, worded as dockerd words it
    (``ps: error: unsupported option (BSD syntax)``).
    """
    try:
        done = _ps([*args, "-q" + ",".join(map(str, pids))]) if pids else None
        if done is None or done.returncode != 0:
            done = _ps(args)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SystemError_(f"ps: {exc}") from exc
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").splitlines()
        reason = lines[0] if lines and lines[0] else f"exit status {done.returncode}"
        raise SystemError_(f"ps: {reason}")
    return done.stdout.decode(errors="replace")
