"""The WSGI app gunicorn serves: a linear model (model.json as examples/containers/linear writes it) under the
SageMaker serving contract.

  GET  /ping          200 when the model loaded, else 503 with the reason
  POST /invocations   text/csv: a row of features per line (a row with one value more has its target column
                      dropped) -> one prediction per line; application/json: {"instances": [[...], ...]}
                      -> {"predictions": [...]}. The Accept header may ask for the other format.

Every response carries X-Model-Version (model.json's "version"); X-Amzn-SageMaker-Custom-Attributes is echoed
back, as SageMaker lets a container do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

MODEL_PATH = os.path.join(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"), "model.json")
MAX_BODY_BYTES = 100 * 1024 * 1024


class DataError(ValueError):
    """The request body cannot be scored (answered 400)."""


def load(path: str) -> tuple[dict[str, Any] | None, str]:
    """Return (model, "") or (None, the reason it did not load)."""
    try:
        with open(path, encoding="utf-8") as handle:
            model = json.load(handle)
        model["weights"] = [float(w) for w in model["weights"]]
        return model, ""
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"model not loaded from {path}: {type(exc).__name__}: {exc}"


MODEL, LOAD_ERROR = load(MODEL_PATH)
VERSION = str((MODEL or {}).get("version", "unversioned"))


def predict(rows: list[list[float]]) -> list[float]:
    """Score rows, dropping the target column of rows that carry one."""
    assert MODEL is not None
    weights, n = MODEL["weights"], len(MODEL["weights"])
    target = int(MODEL.get("target_column", 0))
    out = []
    for number, row in enumerate(rows, 1):
        if len(row) == n + 1:
            row = row[:target] + row[target + 1 :]
        elif len(row) != n:
            raise DataError(f"row {number} has {len(row)} values, expected {n} (or {n + 1} with the target)")
        out.append(float(MODEL.get("intercept", 0.0)) + sum(w * x for w, x in zip(weights, row, strict=True)))
    return out


def parse(body: bytes, content_type: str) -> list[list[float]]:
    """Read rows from a text/csv or application/json body."""
    try:
        text = body.decode("utf-8")
        if content_type == "application/json":
            document = json.loads(text)
            rows = document.get("instances") if isinstance(document, dict) else document
            if rows and all(isinstance(v, (int, float)) for v in rows):
                rows = [rows]
            return [[float(v) for v in row] for row in rows or []]
        return [[float(v) for v in line.split(",")] for line in text.splitlines() if line.strip()]
    except (UnicodeDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"cannot read the {content_type} body: {exc}") from None


def media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Route /ping and /invocations."""
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
    headers = [("X-Model-Version", VERSION)]
    custom = environ.get("HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES")
    if custom:
        headers.append(("X-Amzn-SageMaker-Custom-Attributes", custom))

    def answer(status: str, body: bytes = b"", content_type: str = "text/plain") -> list[bytes]:
        start_response(status, [*headers, ("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    if path == "/ping":
        return answer("200 OK") if MODEL is not None else answer("503 Service Unavailable", LOAD_ERROR.encode())
    if path != "/invocations":
        return answer("404 Not Found", f"no such path: {path}\n".encode())
    if method != "POST":
        return answer("405 Method Not Allowed", b"use POST /invocations\n")
    if MODEL is None:
        return answer("503 Service Unavailable", LOAD_ERROR.encode())
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > MAX_BODY_BYTES:
        return answer("413 Payload Too Large", b"body too large\n")
    content_type = media_type(environ.get("CONTENT_TYPE")) or "text/csv"
    accept = media_type(environ.get("HTTP_ACCEPT"))
    accept = content_type if accept in ("", "*/*") else accept
    if content_type not in ("text/csv", "application/json") or accept not in ("text/csv", "application/json"):
        return answer("415 Unsupported Media Type", b"use text/csv or application/json\n")
    try:
        predictions = predict(parse(environ["wsgi.input"].read(length), content_type))
    except DataError as exc:
        return answer("400 Bad Request", f"{exc}\n".encode())
    if accept == "text/csv":
        return answer("200 OK", "".join(f"{p!r}\n" for p in predictions).encode(), "text/csv")
    return answer("200 OK", json.dumps({"predictions": predictions}).encode(), "application/json")
