"""k-nearest neighbours under SageMaker's container contract: ``train`` and ``serve``, as the built-in k-NN answers.

train: reads every CSV file of the ``train`` channel (label first, then ``feature_dim`` features), keeps at most
``sample_size`` rows, and writes them with ``k`` and ``predictor_type`` to /opt/ml/model/knn.json. With a ``test``
channel (labelled rows too), it scores the model on it and writes the built-in's metric line,
``#test_score (algo-1) : ('accuracy', x)`` (classifier) or ``('mse', x)`` (regressor), which tuning reads.
serve: ``GET /ping``; ``POST /invocations`` with CSV rows (features only) or JSON
``{"instances": [{"features": [...]}]}``; answers ``{"predictions": [{"predicted_label": x}, ...]}``: the most
common label of the k nearest rows (classifier) or their mean (regressor).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ML = Path("/opt/ml")
MODEL_FILE = ML / "model" / "knn.json"


def fail(message: str) -> int:
    """Write SageMaker's failure file and say why.

    :param message: what went wrong.
    """
    (ML / "output").mkdir(parents=True, exist_ok=True)
    (ML / "output" / "failure").write_text(message)
    print(message, file=sys.stderr, flush=True)
    return 1


def train() -> int:
    """Keep the training rows as the model."""
    hyperparameters = json.loads((ML / "input" / "config" / "hyperparameters.json").read_text() or "{}")
    try:
        k = int(hyperparameters["k"])
        feature_dim = int(hyperparameters["feature_dim"])
        sample_size = int(hyperparameters["sample_size"])
        kind = hyperparameters.get("predictor_type", "classifier")
    except (KeyError, ValueError) as err:
        return fail(f"hyperparameters k, feature_dim and sample_size must be integers: {err}")
    if kind not in ("classifier", "regressor"):
        return fail(f"predictor_type {kind!r} is not classifier or regressor")
    try:
        rows = channel_rows("train", feature_dim)[:sample_size]
        test_rows = channel_rows("test", feature_dim)
    except ValueError as err:
        return fail(str(err))
    if not rows:
        return fail("the train channel holds no rows")
    model = {"k": k, "predictor_type": kind, "rows": rows}
    MODEL_FILE.parent.mkdir(parents=True, exist_ok=True)
    MODEL_FILE.write_text(json.dumps(model))
    print(f"#train_data_rows: {len(rows)}; k={k}; predictor_type={kind}", flush=True)
    if test_rows:
        print(f"#test_score (algo-1) : {test_score(model, test_rows)!r}", flush=True)
    return 0


def channel_rows(channel: str, feature_dim: int) -> list[list[float]]:
    """Return the labelled rows of every CSV file of a channel (none when the channel is absent).

    :param channel: the channel's name.
    :param feature_dim: the number of features after the label.
    """
    rows = []
    for path in sorted((ML / "input" / "data" / channel).rglob("*")):
        if path.is_file():
            for line in path.read_text().splitlines():
                if line.strip():
                    values = [float(v) for v in line.split(",")]
                    if len(values) != feature_dim + 1:
                        raise ValueError(f"{path.name}: a row has {len(values) - 1} features, not {feature_dim}")
                    rows.append(values)
    return rows


def test_score(model: dict, rows: list[list[float]]) -> tuple[str, float]:
    """Return the model's score on labelled rows: ("accuracy", share right) or ("mse", mean squared error).

    :param model: the trained model.
    :param rows: the labelled rows (label first).
    """
    predictions = [(predict(model, row[1:]), row[0]) for row in rows]
    if model["predictor_type"] == "regressor":
        return "mse", sum((p - y) ** 2 for p, y in predictions) / len(predictions)
    return "accuracy", sum(p == y for p, y in predictions) / len(predictions)


def predict(model: dict, features: list[float]) -> float:
    """Return the prediction for one row.

    :param model: the trained model.
    :param features: the row's features.
    """
    if any(len(row) != len(features) + 1 for row in model["rows"][:1]):
        raise ValueError(f"a row has {len(features)} features; the model was trained on {len(model['rows'][0]) - 1}")
    nearest = sorted(model["rows"], key=lambda r: sum((a - b) ** 2 for a, b in zip(r[1:], features, strict=True)))
    labels = [r[0] for r in nearest[: model["k"]]]
    if model["predictor_type"] == "regressor":
        return sum(labels) / len(labels)
    return Counter(labels).most_common(1)[0][0]


def serve() -> int:
    """Answer /ping and /invocations on port 8080 (SAGEMAKER_BIND_TO_PORT when set)."""
    model = json.loads(MODEL_FILE.read_text())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(200 if self.path == "/ping" else 404, b"")

        def do_POST(self) -> None:
            if self.path != "/invocations":
                self._answer(404, b"")
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            try:
                if self.headers.get("Content-Type", "text/csv").startswith("application/json"):
                    rows = [i["features"] for i in json.loads(body)["instances"]]
                else:
                    rows = [[float(v) for v in line.split(",")] for line in body.splitlines() if line.strip()]
                answer = {"predictions": [{"predicted_label": predict(model, row)} for row in rows]}
            except (ValueError, KeyError, TypeError) as err:
                self._answer(400, f"cannot read the request: {err}".encode())
                return
            self._answer(200, json.dumps(answer).encode(), "application/json")

        def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    sys.exit(train() if command == "train" else serve() if command == "serve" else fail(f"unknown command {command!r}"))
