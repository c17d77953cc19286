"""``train``: ridge least squares with an intercept, SageMaker training-container contract.

Reads (all written by the platform before the container starts):
  /opt/ml/input/config/hyperparameters.json  every value a string:
      l2                float >= 0, default "0.0": ridge penalty added to the diagonal of the
                        centred X'X (scikit-learn Ridge's alpha; the intercept is not penalised)
      target_column     int, default "0": the column holding the target (negative counts from the end)
      epochs_log_every  optional int: print a progress line each time this many more rows are loaded
      anything else is ignored (and listed in the log)
  /opt/ml/input/config/resourceconfig.json    current_host / hosts (printed)
  /opt/ml/input/config/inputdataconfig.json   channels and their input mode (Pipe is refused)
  /opt/ml/input/data/train/**                 CSV files: no header, all numeric (``training`` is
                                              accepted as the channel name too); ``.gz`` is unzipped;
                                              names starting with "." or "_" are skipped
  /opt/ml/input/data/validation/**            optional, same format

Writes:
  /opt/ml/model/model.json        weights, intercept, n_features, train_rmse, ...
  /opt/ml/output/data/report.json sizes, timings and metrics
  /opt/ml/output/success | /opt/ml/output/failure (error text + short traceback), exit 0 | 1
  stdout: ``train_rmse=0.1;`` and ``validation_rmse=0.1;`` for MetricDefinitions such as
  ``train_rmse=([0-9.eE+-]+);``

SIGTERM (StopTrainingJob, MaxRuntime): writes ``stopped by SIGTERM`` to output/failure and exits 143.
With several hosts only the first host writes model.json (the platform merges model/ folders).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import signal
import sys
import time
import traceback
from itertools import repeat
from operator import mul, sub
from typing import Any

from linear_common import (
    MODEL_FILE,
    MODEL_FORMAT,
    DataError,
    check_column_count,
    csv_columns,
    linear_predict,
    ml_dir,
    non_empty_lines,
)

KNOWN_HYPERPARAMETERS = {"l2", "target_column", "epochs_log_every"}


def log(message: str) -> None:
    print(message, flush=True)


# ------------------------------------------------------------------------------ configuration
def read_json(path: str, default: Any) -> Any:
    if not os.path.exists(path):
        log(f"note: {path} is missing, using {default!r}")
        return default
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def hp_value(hps: dict[str, Any], name: str, default: str | None) -> str | None:
    value = hps.get(name, default)
    if value is None:
        return None
    value = str(value).strip()
    # The SageMaker Python SDK JSON-encodes values in script mode ("\"0.1\""): accept both.
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def parse_hyperparameters(hps: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(hps, dict):
        raise DataError("hyperparameters.json must hold a JSON object")
    try:
        l2 = float(hp_value(hps, "l2", "0.0"))  # type: ignore[arg-type]
    except ValueError:
        raise DataError(f"hyperparameter l2 must be a number, got {hps.get('l2')!r}") from None
    if not math.isfinite(l2) or l2 < 0:
        raise DataError(f"hyperparameter l2 must be a finite number >= 0, got {hps.get('l2')!r}")
    try:
        target_column = int(hp_value(hps, "target_column", "0"))  # type: ignore[arg-type]
    except ValueError:
        raise DataError(f"hyperparameter target_column must be an integer, got {hps.get('target_column')!r}") from None
    log_every_text = hp_value(hps, "epochs_log_every", None)
    log_every = None
    if log_every_text not in (None, ""):
        try:
            log_every = int(log_every_text)  # type: ignore[arg-type]
        except ValueError:
            raise DataError(f"hyperparameter epochs_log_every must be an integer, got {log_every_text!r}") from None
        if log_every <= 0:
            log_every = None
    ignored = sorted(set(hps) - KNOWN_HYPERPARAMETERS)
    if ignored:
        log(f"ignoring hyperparameters: {', '.join(ignored)}")
    return {"l2": l2, "target_column": target_column, "epochs_log_every": log_every}


# ----------------------------------------------------------------------------------------- data
def channel_files(directory: str) -> list[str]:
    files = []
    for root, dirs, names in os.walk(directory, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(names):
            if not name.startswith((".", "_")):
                files.append(os.path.join(root, name))
    return files


def read_text(path: str) -> str:
    if path.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_channel(name: str, directory: str, n_columns: int | None, log_every: int | None) -> list[list[float]]:
    """All rows of all files of a channel, as columns. Every file must have the same width."""
    files = channel_files(directory)
    if not files:
        raise DataError(f"channel {name!r}: no files under {directory}")
    columns: list[list[float]] | None = None
    rows = 0
    next_mark = log_every
    for path in files:
        lines = non_empty_lines(read_text(path))
        if not lines:
            continue
        source = os.path.relpath(path, directory)
        if n_columns is None:
            n_columns = lines[0].count(",") + 1
        check_column_count(lines, n_columns, f"channel {name!r} file {source}")
        file_columns = csv_columns(lines, n_columns, f"channel {name!r} file {source}")
        if columns is None:
            columns = file_columns
        else:
            for column, extra in zip(columns, file_columns, strict=True):
                column.extend(extra)
        rows += len(lines)
        if next_mark is not None and rows >= next_mark:
            log(f"progress: {name}: loaded {rows} rows from {source}")
            next_mark = (rows // log_every + 1) * log_every  # type: ignore[operator]
    if columns is None:
        raise DataError(f"channel {name!r}: the files under {directory} hold no rows")
    log(f"{name}: {rows} rows x {n_columns} columns from {len(files)} file(s)")
    return columns


def split_target(columns: list[list[float]], target_column: int) -> tuple[list[float], list[list[float]]]:
    return columns[target_column], columns[:target_column] + columns[target_column + 1 :]


# ------------------------------------------------------------------------------------------ fit
def solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Solve a x = b by Gaussian elimination with partial pivoting (a is small and square)."""
    n = len(b)
    m = [[*row, rhs] for row, rhs in zip(a, b, strict=True)]
    scale = max((abs(v) for row in a for v in row), default=0.0) or 1.0
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) <= 1e-12 * scale:
            raise DataError(
                "the normal equations are singular (a constant or duplicated feature column?); "
                "set hyperparameter l2 > 0"
            )
        m[col], m[pivot] = m[pivot], m[col]
        pivot_row = m[col]
        for r in range(col + 1, n):
            factor = m[r][col] / pivot_row[col]
            if factor:
                row = m[r]
                for k in range(col, n + 1):
                    row[k] -= factor * pivot_row[k]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][k] * x[k] for k in range(r + 1, n))) / m[r][r]
    return x


def fit_ridge(y: list[float], features: list[list[float]], l2: float) -> tuple[list[float], float]:
    """Minimise ||y - Xw - b||^2 + l2 ||w||^2 on centred data; returns (w, b)."""
    n = len(y)
    means = [sum(column) / n for column in features]
    y_mean = sum(y) / n
    centred = [list(map(sub, column, repeat(mean))) for column, mean in zip(features, means, strict=True)]
    y_centred = list(map(sub, y, repeat(y_mean)))
    p = len(features)
    xtx = [[0.0] * p for _ in range(p)]
    for i in range(p):
        for j in range(i, p):
            xtx[i][j] = xtx[j][i] = sum(map(mul, centred[i], centred[j]))
        xtx[i][i] += l2
    xty = [sum(map(mul, column, y_centred)) for column in centred]
    weights = solve(xtx, xty)
    intercept = y_mean - sum(w * m for w, m in zip(weights, means, strict=True))
    return weights, intercept


def rmse(y: list[float], predictions: list[float]) -> float:
    residuals = list(map(sub, y, predictions))
    return math.sqrt(sum(map(mul, residuals, residuals)) / len(y)) if y else float("nan")


# ---------------------------------------------------------------------------------- entrypoint
def write_atomic(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_failure(text: str) -> None:
    try:
        write_atomic(ml_dir("output", "failure"), text)
    except OSError as exc:  # nothing better to do: the exit code still says Failed
        os.write(2, f"train: could not write output/failure: {exc}\n".encode())


def _on_sigterm(signum: int, frame: Any) -> None:
    # Runs between bytecodes of the main thread: use os.write, not print (reentrancy).
    write_failure("stopped by SIGTERM")
    os.write(1, b"train: stopped by SIGTERM\n")
    os._exit(143)


def run() -> dict[str, Any]:
    started = time.monotonic()
    config_dir = ml_dir("input", "config")
    hps = parse_hyperparameters(read_json(os.path.join(config_dir, "hyperparameters.json"), {}))
    resources = read_json(os.path.join(config_dir, "resourceconfig.json"), {})
    channels = read_json(os.path.join(config_dir, "inputdataconfig.json"), {})
    current_host = resources.get("current_host", "algo-1")
    hosts = resources.get("hosts") or [current_host]
    log(
        f"current_host={current_host} hosts={','.join(hosts)} "
        f"instance_type={resources.get('current_instance_type', 'unknown')}"
    )
    log(f"hyperparameters: l2={hps['l2']} target_column={hps['target_column']}")

    data_dir = ml_dir("input", "data")
    has_train = os.path.isdir(os.path.join(data_dir, "train")) or "train" in channels
    train_name = "train" if has_train else "training"
    for name in (train_name, "validation"):
        mode = (channels.get(name) or {}).get("TrainingInputMode", "File")
        if mode == "Pipe":
            raise DataError(f"channel {name!r}: Pipe input mode is not supported; use File or FastFile")
    train_dir = os.path.join(data_dir, train_name)
    if not os.path.isdir(train_dir):
        raise DataError(
            f"no training data: {os.path.join(data_dir, 'train')} does not exist "
            f"(channels in inputdataconfig.json: {', '.join(sorted(channels)) or 'none'})"
        )

    t0 = time.monotonic()
    columns = load_channel(train_name, train_dir, None, hps["epochs_log_every"])
    n_columns = len(columns)
    if n_columns < 2:
        raise DataError(f"training data has {n_columns} column; need a target and at least one feature")
    target = hps["target_column"] + n_columns if hps["target_column"] < 0 else hps["target_column"]
    if not 0 <= target < n_columns:
        raise DataError(f"target_column={hps['target_column']} is out of range for {n_columns} columns")
    y, features = split_target(columns, target)
    load_seconds = time.monotonic() - t0

    t0 = time.monotonic()
    weights, intercept = fit_ridge(y, features, hps["l2"])
    train_rmse = rmse(y, linear_predict(features, weights, intercept))
    fit_seconds = time.monotonic() - t0
    log(f"fitted {len(weights)} weights on {len(y)} rows in {fit_seconds:.3f} s (loading took {load_seconds:.3f} s)")
    log(f"train_rmse={train_rmse:.6g};")

    metrics: dict[str, float] = {"train_rmse": train_rmse}
    validation_rows = 0
    validation_dir = os.path.join(data_dir, "validation")
    if os.path.isdir(validation_dir):
        v_columns = load_channel("validation", validation_dir, n_columns, None)
        v_y, v_features = split_target(v_columns, target)
        validation_rows = len(v_y)
        metrics["validation_rmse"] = rmse(v_y, linear_predict(v_features, weights, intercept))
        log(f"validation_rmse={metrics['validation_rmse']:.6g};")

    model = {
        "format": MODEL_FORMAT,
        "weights": weights,
        "intercept": intercept,
        "n_features": len(weights),
        "target_column": target,
        "l2": hps["l2"],
        "train_rows": len(y),
        **metrics,
    }
    if current_host == sorted(hosts)[0]:
        write_atomic(ml_dir("model", MODEL_FILE), json.dumps(model, indent=1) + "\n")
        log(f"wrote {ml_dir('model', MODEL_FILE)}")
    else:
        log(f"{current_host} is not the first host: model.json is written by {sorted(hosts)[0]}")
    report = {
        "host": current_host,
        "hosts": hosts,
        "train_channel": train_name,
        "train_rows": len(y),
        "validation_rows": validation_rows,
        "n_features": len(weights),
        "load_seconds": round(load_seconds, 4),
        "fit_seconds": round(fit_seconds, 4),
        "total_seconds": round(time.monotonic() - started, 4),
        "metrics": metrics,
    }
    report_name = "report.json" if len(hosts) == 1 else f"report-{current_host}.json"
    write_atomic(ml_dir("output", "data", report_name), json.dumps(report, indent=1) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        report = run()
    except Exception as exc:  # the contract: any failure -> output/failure + non-zero exit
        reason = str(exc) if isinstance(exc, DataError) else f"{type(exc).__name__}: {exc}"
        detail = traceback.format_exc(limit=-4)
        write_failure(f"{reason}\n\n{detail}")
        print(f"train failed: {reason}", file=sys.stderr, flush=True)
        print(detail, file=sys.stderr, flush=True)
        return 1
    write_atomic(ml_dir("output", "success"), "")
    log(f"training complete in {report['total_seconds']:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
