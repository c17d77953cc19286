"""Helpers shared by ``train`` and ``serve``: the /opt/ml layout, CSV parsing, the model file.

Everything is the Python standard library. Numeric work is done column-wise with ``map`` over
``operator`` functions so that the inner loops run in C: 100,000 rows x 8 features parse and fit
in a fraction of a second without numpy.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from itertools import repeat
from operator import add, mul
from typing import Any

MODEL_FILE = "model.json"
MODEL_FORMAT = "ml-lifecycle-linear/1"


def ml_dir(*parts: str) -> str:
    """A path under /opt/ml (or ``$SAGEMAKER_BASE_DIR``, as the training toolkit allows)."""
    return os.path.join(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"), *parts)


class DataError(ValueError):
    """Input data that cannot be used (the user's fault, not the program's)."""


def non_empty_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _locate_bad_value(lines: list[str], source: str, first_row: int) -> DataError:
    """Find the first row holding a non-numeric or non-finite value, for a useful message."""
    for number, line in enumerate(lines, first_row):
        for field in line.split(","):
            try:
                value = float(field)
            except ValueError:
                return DataError(f"{source}: row {number}: not a number: {field.strip()[:40]!r}")
            if not math.isfinite(value):
                return DataError(f"{source}: row {number}: not a finite number: {field.strip()!r}")
    return DataError(f"{source}: malformed numeric CSV")


def csv_columns(lines: list[str], n_columns: int, source: str = "input", first_row: int = 1) -> list[list[float]]:
    """Parse CSV rows that all have ``n_columns`` numeric fields into columns of floats.

    Rows must be non-empty; the caller checks the column count (``line.count(",") + 1``).
    No header, no quoting: plain numbers, as SageMaker's built-in CSV algorithms expect.
    """
    if not lines:
        return [[] for _ in range(n_columns)]
    try:
        flat = list(map(float, ",".join(lines).split(",")))
    except ValueError:
        raise _locate_bad_value(lines, source, first_row) from None
    if not all(map(math.isfinite, flat)):
        raise _locate_bad_value(lines, source, first_row)
    return [flat[j::n_columns] for j in range(n_columns)]


def check_column_count(lines: list[str], n_columns: int, source: str, first_row: int = 1) -> None:
    for number, line in enumerate(lines, first_row):
        found = line.count(",") + 1
        if found != n_columns:
            raise DataError(f"{source}: row {number} has {found} columns, expected {n_columns}")


def linear_predict(columns: list[list[float]], weights: list[float], intercept: float) -> list[float]:
    """intercept + sum_j weights[j] * columns[j], computed column by column."""
    n_rows = len(columns[0]) if columns else 0
    out = [float(intercept)] * n_rows
    for weight, column in zip(weights, columns, strict=True):
        out = list(map(add, out, map(mul, column, repeat(weight))))
    return out


def load_model(path: str) -> tuple[dict[str, Any], str]:
    """Load and check model.json. Returns (model, version): the model's own ``version`` field, or
    the first 12 hex digits of the file's sha256."""
    with open(path, "rb") as f:
        raw = f.read()
    model = json.loads(raw)
    if not isinstance(model, dict):
        raise ValueError(f"{path}: expected a JSON object")
    weights = model.get("weights")
    if not isinstance(weights, list) or not all(isinstance(w, (int, float)) for w in weights):
        raise ValueError(f"{path}: 'weights' must be a list of numbers")
    model["weights"] = [float(w) for w in weights]
    model["intercept"] = float(model.get("intercept", 0.0))
    n_features = int(model.get("n_features", len(weights)))
    if n_features != len(weights):
        raise ValueError(f"{path}: n_features={n_features} but {len(weights)} weights")
    model["n_features"] = n_features
    model["target_column"] = int(model.get("target_column", 0))
    version = model.get("version")
    if version is None or str(version).strip() == "":
        version = hashlib.sha256(raw).hexdigest()[:12]
    return model, str(version).strip()
