"""Entry point of the `doca` command."""

import sys

from doca.placeholder import not_ready


def main() -> None:
    sys.exit(not_ready("doca"))
