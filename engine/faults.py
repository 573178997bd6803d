"""Named points where the engine can be made to die on the spot, to show that what it keeps
on disk survives a crash at the worst moment.

Off unless the environment variable ``DOCA_FAULTS`` names points (comma-separated); the
reliability tests set it. An armed point kills the engine with SIGKILL, as the kernel's OOM
killer or a power cut would: no cleanup handler runs.
"""

from __future__ import annotations

import os
import signal

ENV = "DOCA_FAULTS"
_ARMED = frozenset(name.strip() for name in os.environ.get(ENV, "").split(",") if name.strip())

# Every point the engine has, for the tests to walk through.
POINTS = (
    "image.before-record",  # layers and config stored, image record not yet written
    "image.before-tag",  # image record written, references not yet updated
    "container.before-config",  # container directory and state written, config.json not yet
    "container.mid-remove",  # config.json removed, the rest of the directory not yet
    "volume.before-record",  # volume data directory made, volume.json not yet written
    "build.before-commit",  # a RUN step's container finished, its image not yet committed
)


def fault_point(name: str) -> None:
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
