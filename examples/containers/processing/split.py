"""Split CSV rows into train and validation sets, the way a SageMaker Processing job would.

Reads every file below --input (default /opt/ml/processing/input), deals each row to validation when a stable hash of
the row falls below --validation-fraction, and writes part files named after this host (from
/opt/ml/config/resourceconfig.json) to --train and --validation, so several hosts never overwrite each other.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zlib

RESOURCE_CONFIG = "/opt/ml/config/resourceconfig.json"


def current_host() -> str:
    """Return this host's name from resourceconfig.json (algo-1 when it is missing, as outside SageMaker)."""
    try:
        with open(RESOURCE_CONFIG) as config:
            return str(json.load(config)["current_host"])
    except (OSError, KeyError, ValueError):
        return "algo-1"


def main(argv: list[str]) -> int:
    """Split the rows; return the exit code.

    :param argv: the command-line arguments (ContainerArguments).
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", default="/opt/ml/processing/input")
    parser.add_argument("--train", default="/opt/ml/processing/train")
    parser.add_argument("--validation", default="/opt/ml/processing/validation")
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    args = parser.parse_args(argv)
    if not 0.0 <= args.validation_fraction <= 1.0:
        with open("/opt/ml/output/failure", "w") as failure:
            failure.write(f"--validation-fraction {args.validation_fraction} is not between 0 and 1")
        return 2
    host = current_host()
    counts = {"train": 0, "validation": 0}
    os.makedirs(args.train, exist_ok=True)
    os.makedirs(args.validation, exist_ok=True)
    with (
        open(os.path.join(args.train, f"{host}.csv"), "w") as train,
        open(os.path.join(args.validation, f"{host}.csv"), "w") as validation,
    ):
        for folder, _, files in sorted(os.walk(args.input)):
            for name in sorted(files):
                with open(os.path.join(folder, name)) as source:
                    for row in source:
                        if not row.strip():
                            continue
                        held_out = zlib.crc32(row.encode()) / 2**32 < args.validation_fraction
                        (validation if held_out else train).write(row if row.endswith("\n") else row + "\n")
                        counts["validation" if held_out else "train"] += 1
    summary = f"{host}: {counts['train']} train rows, {counts['validation']} validation rows"
    print(summary)
    with open("/opt/ml/output/message", "w") as message:  # DescribeProcessingJob's ExitMessage
        message.write(summary + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
