"""k-nearest neighbours under SageMaker's container contract: ``train`` and ``serve``, as the built-in k-NN answers.

train: reads every CSV file of the ``train`` channel (label first, then ``feature_dim`` features), keeps at most
``sample_size`` rows, and writes them with ``k`` and ``predictor_type`` to /opt/ml/model/knn.json.
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
    rows = []
    for path in sorted((ML / "input" / "data" / "train").rglob("*")):
        if path.is_file():
            for line in path.read_text().splitlines():
                if line.strip():
                    values = [float(v) for v in line.split(",")]
                    if len(values) != feature_dim + 1:
                        return fail(f"{path.name}: a row has {len(values) - 1} features, not {feature_dim}")
                    rows.append(values)
    if not rows:
        return fail("the train channel holds no rows")
    rows = rows[:sample_size]
    MODEL_FILE.parent.mkdir(parents=True, exist_ok=True)
    MODEL_FILE.write_text(json.dumps({"k": k, "predictor_type": kind, "rows": rows}))
    print(f"#train_data_rows: {len(rows)}; k={k}; predictor_type={kind}", flush=True)
    return 0


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
