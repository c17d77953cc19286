"""Container entrypoint of ml_lifecycle's Dockerfile templates: ``<image> train`` or ``<image> serve``.

SageMaker passes ``train`` or ``serve`` as the only argument. Both run in this process (PID 1 in the
container, so SIGTERM reaches the code that handles it). Any other command is exec'd as it is.
Standard library only: it runs on any base image with Python 3.10 or later.
"""

from __future__ import annotations

import os
import sys

USAGE = "usage: <image> train | serve | COMMAND [ARG...]\n"


def main(argv: list[str]) -> int:
    """Dispatch on the first argument.

    :param argv: the container's arguments.
    """
    if not argv:
        sys.stderr.write(USAGE)
        return 2
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if argv[0] == "train":
        from sm_train import main as train_main

        return train_main(argv[1:])
    if argv[0] == "serve":
        from sm_serve import main as serve_main

        return serve_main(argv[1:])
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"cannot run {argv[0]!r}: {exc}\n{USAGE}")
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
