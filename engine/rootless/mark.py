"""How the re-executed engine knows it runs inside its user namespace (kept apart so that the
configuration can ask without importing the re-execution)."""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Set in the re-executed engine's environment: the outer process's PID.
INSIDE_MARK = "_DOCA_ROOTLESS_PARENT"


def in_namespace(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process is the engine re-executed inside its user namespace."""
    return bool((os.environ if environ is None else environ).get(INSIDE_MARK))
