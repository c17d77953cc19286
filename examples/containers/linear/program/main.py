"""Container entrypoint: ``docker run <image> train`` or ``docker run <image> serve``.

SageMaker passes ``train`` or ``serve`` as the only argument. Both run in this process, which is
PID 1, so SIGTERM from ``docker stop`` reaches the code that handles it. Any other command is
exec'd as it is (``docker run <image> python3 -c ...``), replacing this process.
"""

from __future__ import annotations

import os
import sys

USAGE = "usage: <image> train | serve | COMMAND [ARG...]\n"


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write(USAGE)
        return 2
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    command = argv[0]
    if command == "train":
        from linear_train import main as train_main

        return train_main(argv[1:])
    if command == "serve":
        from linear_serve import main as serve_main

        return serve_main(argv[1:])
    try:
        os.execvp(command, argv)
    except OSError as exc:
        sys.stderr.write(f"cannot run {command!r}: {exc}\n{USAGE}")
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
