"""Entry point of `docker-credential-doca`."""

import sys

from doca.placeholder import not_ready


def main() -> None:
    sys.exit(not_ready("docker-credential-doca"))
