"""Synthetic regression data for the linear demo container (standard library only).

Usage::

    python examples/data/generate.py --out DIR [--rows 5000] [--features 8] [--seed 7]
                                     [--validation-rows N] [--score-rows 1000] [--files 4]
                                     [--noise 0.1]

Writes, from one fixed linear model ``y = intercept + sum(w_j * x_j) + noise``:

    DIR/train/part-0000.csv ... part-0003.csv   ``--rows`` rows split into ``--files`` files of
                                                ~rows/files each; first column y, then the features
    DIR/validation/part-0000.csv                 ``--validation-rows`` rows (default rows/5), same layout
    DIR/raw/part-0000.csv                        the training and validation rows in one file, unsplit: the
                                                 input of the lifecycle DAG's optional processing step
    DIR/score/score.csv                          ``--score-rows`` rows of features only (no target),
                                                 input for batch transform / /invocations
    DIR/truth.json                               the true weights, intercept and noise level

CSV files have no header and use ``\\n`` line ends. Features are uniform in [-1, 1); the noise is
Gaussian with standard deviation ``--noise``, so a good fit has an RMSE close to it. The output
is byte-for-byte the same for the same arguments (``random.Random(seed)``); the weights depend
only on the seed and the number of features.

Examples::

    python examples/data/generate.py --out .demo/data
    python examples/data/generate.py --out /tmp/big --rows 100000 --files 1   # benchmark size
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys


def true_model(features: int, seed: int) -> tuple[list[float], float]:
    rng = random.Random(f"weights-{seed}-{features}")
    weights = [round(rng.uniform(-3.0, 3.0), 3) for _ in range(features)]
    intercept = round(rng.uniform(-2.0, 2.0), 3)
    return weights, intercept


def rows(
    rng: random.Random, count: int, weights: list[float], intercept: float, noise: float, with_target: bool
) -> list[str]:
    lines = []
    uniform, gauss = rng.uniform, rng.gauss
    for _ in range(count):
        x = [uniform(-1.0, 1.0) for _ in weights]
        fields = [f"{v:.6f}" for v in x]
        if with_target:
            y = intercept + sum(w * v for w, v in zip(weights, x, strict=True)) + gauss(0.0, noise)
            fields.insert(0, f"{y:.6f}")
        lines.append(",".join(fields))
    return lines


def write_lines(path: str, lines: list[str]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(lines) + ("\n" if lines else ""))


def generate(
    out: str,
    n_rows: int = 5000,
    features: int = 8,
    seed: int = 7,
    validation_rows: int | None = None,
    score_rows: int = 1000,
    files: int = 4,
    noise: float = 0.1,
) -> dict[str, object]:
    """Write the data set under ``out``; returns what truth.json holds."""
    if n_rows < 1 or features < 1 or files < 1 or score_rows < 0 or noise < 0:
        raise ValueError("rows, features and files must be >= 1; score rows and noise >= 0")
    weights, intercept = true_model(features, seed)
    rng = random.Random(seed)
    train = rows(rng, n_rows, weights, intercept, noise, with_target=True)
    files = min(files, n_rows)
    per_file = -(-n_rows // files)  # ceiling
    for index in range(files):
        part = train[index * per_file : (index + 1) * per_file]
        write_lines(os.path.join(out, "train", f"part-{index:04d}.csv"), part)
    n_validation = max(1, n_rows // 5) if validation_rows is None else validation_rows
    validation = rows(rng, n_validation, weights, intercept, noise, with_target=True)
    write_lines(os.path.join(out, "validation", "part-0000.csv"), validation)
    write_lines(os.path.join(out, "raw", "part-0000.csv"), train + validation)
    write_lines(
        os.path.join(out, "score", "score.csv"),
        rows(rng, score_rows, weights, intercept, noise, with_target=False),
    )
    truth: dict[str, object] = {
        "weights": weights,
        "intercept": intercept,
        "noise": noise,
        "seed": seed,
        "features": features,
        "train_rows": n_rows,
        "train_files": files,
        "validation_rows": n_validation,
        "raw_rows": n_rows + n_validation,
        "score_rows": score_rows,
    }
    with open(os.path.join(out, "truth.json"), "w", encoding="ascii") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    return truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--rows", type=int, default=5000, help="training rows (default 5000)")
    parser.add_argument("--features", type=int, default=8, help="feature columns (default 8)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--validation-rows", type=int, default=None, help="default rows/5")
    parser.add_argument("--score-rows", type=int, default=1000, help="rows in score/score.csv (default 1000)")
    parser.add_argument("--files", type=int, default=4, help="training files (default 4)")
    parser.add_argument("--noise", type=float, default=0.1, help="noise standard deviation (default 0.1)")
    args = parser.parse_args(argv)
    try:
        truth = generate(
            args.out,
            args.rows,
            args.features,
            args.seed,
            args.validation_rows,
            args.score_rows,
            args.files,
            args.noise,
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(
        f"wrote {truth['train_rows']} training rows in {truth['train_files']} file(s), "
        f"{truth['validation_rows']} validation rows, {truth['raw_rows']} raw rows, {truth['score_rows']} score rows "
        f"to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
