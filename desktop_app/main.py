"""Entry point of `doca-desktop`."""

import sys


def main() -> None:
    print(
        "doca-desktop is not ready yet in this version of Doca; run doca-engine (see README.md).",
        file=sys.stderr,
    )
    sys.exit(1)
