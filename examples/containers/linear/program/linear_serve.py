"""``serve``: the SageMaker inference contract for the linear model, on a threaded HTTP server.

Listens on 0.0.0.0:${SAGEMAKER_BIND_TO_PORT:-8080} and loads /opt/ml/model/model.json at start.

  GET  /ping                  200, empty body (503 with the reason if the model did not load)
  POST /invocations           text/csv: one row of features per non-empty line; a row with
                              n_features + 1 columns has its target column dropped, so training
                              CSVs can be scored as they are. Answers text/csv, one prediction
                              per line, each ending in "\\n".
                              application/json: {"instances": [[...], ...]} (or a bare list of
                              rows) -> {"predictions": [...]}.
                              The Accept header may ask for the other format. Bad input -> 400.
  GET  /execution-parameters  batch-transform hints (MaxConcurrentTransforms, BatchStrategy,
                              MaxPayloadInMB)

Every response carries ``X-Model-Version``: model.json's "version" field, or a sha256 prefix of
the file. The two traps of Python servers in containers are avoided: SIGTERM stops the server
at once (PID 1 ignores it otherwise, and every stop would wait Docker's grace period), and each
response goes out in one write on a TCP_NODELAY socket (headers and body written separately
meet Nagle's algorithm and delayed ACKs: ~40 ms per keep-alive request).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from linear_common import (
    MODEL_FILE,
    DataError,
    csv_columns,
    linear_predict,
    load_model,
    ml_dir,
    non_empty_lines,
)

EXECUTION_PARAMETERS = {"MaxConcurrentTransforms": 2, "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6}
MAX_BODY_BYTES = 100 * 1024 * 1024  # batch transform allows MaxPayloadInMB up to 100
GRACE_SECONDS = 5.0  # how long SIGTERM waits for requests in flight


def log(message: str) -> None:
    print(f"serve: {message}", flush=True)


class Model:
    def __init__(self, path: str) -> None:
        self.path = path
        self.error: str | None = None
        self.version = "none"
        self.weights: list[float] = []
        self.intercept = 0.0
        self.n_features = 0
        self.target_column = 0
        try:
            model, self.version = load_model(path)
        except Exception as exc:  # /ping reports it; the server still starts
            self.error = f"model not loaded from {path}: {type(exc).__name__}: {exc}"
            return
        self.weights = model["weights"]
        self.intercept = model["intercept"]
        self.n_features = model["n_features"]
        self.target_column = model["target_column"]

    # Each predict_* returns a list of floats; DataError means a 400.
    def predict_rows(self, rows: list[list[float]]) -> list[float]:
        n = self.n_features
        out = []
        for number, row in enumerate(rows, 1):
            if len(row) == n + 1:
                row = row[: self.target_column] + row[self.target_column + 1 :]
            elif len(row) != n:
                raise DataError(f"row {number} has {len(row)} values, expected {n} (or {n + 1} with the target)")
            out.append(self.intercept + sum(w * x for w, x in zip(self.weights, row, strict=True)))
        return out

    def predict_csv(self, text: str) -> list[float]:
        lines = non_empty_lines(text)
        if not lines:
            raise DataError("no rows in the request body")
        n = self.n_features
        widths = {line.count(",") + 1 for line in lines}
        if len(widths) == 1 and widths <= {n, n + 1}:
            # Fast path: every row has the same width; work column by column.
            width = widths.pop()
            columns = csv_columns(lines, width, "text/csv body")
            if width == n + 1:
                del columns[self.target_column]
            return linear_predict(columns, self.weights, self.intercept)
        rows = []
        for number, line in enumerate(lines, 1):
            width = line.count(",") + 1
            if width not in (n, n + 1):
                raise DataError(f"row {number} has {width} columns, expected {n} (or {n + 1} with the target)")
            rows.append([column[0] for column in csv_columns([line], width, "text/csv body", number)])
        return self.predict_rows(rows)

    def predict_json(self, text: str) -> list[float]:
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise DataError(f"invalid JSON: {exc}") from None
        rows = document.get("instances") if isinstance(document, dict) else document
        if not isinstance(rows, list) or not rows:
            raise DataError('expected {"instances": [[...], ...]} with at least one row')
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rows):
            rows = [rows]  # a single flat row
        checked = []
        for number, row in enumerate(rows, 1):
            if not isinstance(row, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in row
            ):
                raise DataError(f"instance {number} is not a list of numbers")
            checked.append([float(v) for v in row])
        return self.predict_rows(checked)


def media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # TCP_NODELAY on every accepted socket
    server_version = "ml-lifecycle-linear"
    sys_version = ""
    timeout = 600  # idle keep-alive connections are closed after this
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no access log
        pass

    # -------------------------------------------------------------------------- responses
    def respond(self, status: int, body: bytes = b"", content_type: str | None = None) -> None:
        """Status line, headers and body in a single write (no Nagle / delayed-ACK stall)."""
        model = self.server.model
        lines = [
            f"{self.protocol_version} {status} {HTTPStatus(status).phrase}",
            f"Content-Length: {len(body)}",
            f"X-Model-Version: {model.version}",
        ]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        if self.close_connection or self.server.stopping:
            lines.append("Connection: close")
            self.close_connection = True
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body if body else head)

    def error(self, status: int, message: str) -> None:
        self.respond(status, (message.rstrip("\n") + "\n").encode(), "text/plain; charset=utf-8")

    def read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self.read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            self.error(400, "bad Content-Length")
            return None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self.error(413, f"body larger than {MAX_BODY_BYTES} bytes")
            return None
        return self.rfile.read(length) if length > 0 else b""

    def read_chunked(self) -> bytes | None:
        parts, total = [], 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                self.error(400, "bad chunked encoding")
                return None
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                self.close_connection = True
                self.error(413, f"body larger than {MAX_BODY_BYTES} bytes")
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(8)  # CRLF after each chunk

    # ---------------------------------------------------------------------------- routing
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/ping":
            if self.server.model.error:
                self.error(503, self.server.model.error)
            else:
                self.respond(200)
        elif path == "/execution-parameters":
            self.respond(200, json.dumps(EXECUTION_PARAMETERS).encode(), "application/json")
        elif path == "/invocations":
            self.error(405, "use POST /invocations")
        else:
            self.error(404, f"no such path: {path}")

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self.read_body()
        if body is None:
            return
        if path != "/invocations":
            self.error(404 if path != "/ping" else 405, f"no POST handler for {path}")
            return
        model = self.server.model
        if model.error:
            self.error(503, model.error)
            return
        content_type = media_type(self.headers.get("Content-Type")) or "text/csv"
        accept = media_type(self.headers.get("Accept"))
        if content_type not in ("text/csv", "application/json"):
            self.error(415, f"unsupported Content-Type {content_type!r}; use text/csv or application/json")
            return
        if accept in ("", "*/*"):
            accept = content_type
        if accept not in ("text/csv", "application/json"):
            self.error(406, f"unsupported Accept {accept!r}; use text/csv or application/json")
            return
        self.server.begin_request()
        try:
            text = body.decode("utf-8")
            predictions = model.predict_csv(text) if content_type == "text/csv" else model.predict_json(text)
            if accept == "text/csv":
                payload = ("\n".join(map(repr, predictions)) + "\n").encode()
            else:
                payload = json.dumps({"predictions": predictions}).encode()
            self.respond(200, payload, accept)
        except (DataError, UnicodeDecodeError) as exc:
            self.error(400, str(exc))
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            self.error(500, f"{type(exc).__name__}: {exc}")
        finally:
            self.server.end_request()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], model: Model) -> None:
        self.model = model
        self.stopping = False
        self._in_flight = 0
        self._idle = threading.Condition()
        super().__init__(address, Handler)

    def begin_request(self) -> None:
        with self._idle:
            self._in_flight += 1

    def end_request(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight and time.monotonic() < deadline:
                self._idle.wait(deadline - time.monotonic())
            return self._in_flight


class _StopServingError(Exception):
    """Raised by the SIGTERM/SIGINT handler to leave serve_forever() at once."""


def _raise_stop(signum: int, frame: Any) -> None:
    raise _StopServingError(signum)


def main(argv: list[str] | None = None) -> int:
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT") or 8080)
    model = Model(ml_dir("model", MODEL_FILE))
    # Installed before the socket opens: a stop that comes during start-up is honoured too.
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        server = Server(("0.0.0.0", port), model)
    except _StopServingError:
        return 0
    if model.error:
        log(f"WARNING {model.error}; /ping answers 503")
    else:
        log(f"model version {model.version}: {model.n_features} features")
    log(f"listening on 0.0.0.0:{port} (pid {os.getpid()})")
    # The signal handler raises inside select(), so the loop ends at once (no polling).
    with contextlib.suppress(_StopServingError):
        server.serve_forever(poll_interval=3600)
    # A second SIGTERM/SIGINT while requests finish: leave at once.
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(0))
    server.stopping = True
    server.server_close()  # stop accepting
    left = server.wait_idle(GRACE_SECONDS)
    log("stopped by signal" + (f" ({left} request(s) cut short)" if left else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
