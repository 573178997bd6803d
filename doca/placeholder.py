"""What a command that is not built yet says when it is run."""

import sys


def not_ready(command: str) -> int:
    print(
        f"{command} is not ready yet in this version of Doca; "
        "use the docker CLI against doca-engine meanwhile (see README.md).",
        file=sys.stderr,
    )
    return 1
