"""The pull benchmark alone: ``python -m benchmarks.pull [--runs N]``, Doca and Debian's dockerd
side by side; results go to ``benchmarks/pull/``."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.__main__ import main

if __name__ == "__main__":
    out = Path(__file__).parent / "pull"
    raise SystemExit(main(["--cases", "pull", "--out", str(out), *sys.argv[1:]]))
