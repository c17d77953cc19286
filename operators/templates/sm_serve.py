"""``serve``: the user's inference module behind SageMaker's HTTP contract, as the sagemaker-inference toolkit does.

Loads the module (SAGEMAKER_PROGRAM, else the image's ML_LIFECYCLE_INFERENCE_MODULE; a copy under
/opt/ml/model/code wins, as with the SageMaker SDK's repacked models), calls ``model_fn(model_dir)`` once, and
answers ``POST /invocations`` with ``input_fn(body, content_type)`` -> ``predict_fn(data, model)`` ->
``output_fn(prediction, accept)``, or with ``transform_fn(model, body, content_type, accept)`` when the module
defines it. Handlers the module leaves out fall back to JSON and CSV defaults. ``GET /ping`` answers 200 once the
model is loaded (503 with the reason otherwise). Port: SAGEMAKER_BIND_TO_PORT, else 8080. Responses go out in
one write on TCP_NODELAY sockets; SIGTERM stops the server at once.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import os
import signal
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_DIR = os.path.join(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"), "model")
JSON, CSV = "application/json", "text/csv"


class HandlerError(Exception):
    """An error with an HTTP status (the toolkit's GenericInferenceToolkitError does the same).

    :param status_code: the HTTP status.
    :param message: the text sent back.
    """

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


def default_input_fn(body: bytes, content_type: str) -> Any:
    """Decode JSON, CSV (rows of numbers where they parse) or plain text; other types are a 415.

    :param body: the request body.
    :param content_type: its media type.
    """
    text = body.decode("utf-8")
    if content_type == JSON:
        return json.loads(text)
    if content_type == CSV:
        return [[_number(cell) for cell in row] for row in csv.reader(io.StringIO(text)) if row]
    if content_type.startswith("text/"):
        return text
    raise HandlerError(415, f"unsupported content type {content_type!r}; send application/json or text/csv")


def default_predict_fn(data: Any, model: Any) -> Any:
    """Call ``model.predict(data)``, or the model itself when it is callable.

    :param data: the decoded input.
    :param model: what model_fn returned.
    """
    if hasattr(model, "predict"):
        return model.predict(data)
    if callable(model):
        return model(data)
    raise HandlerError(500, "the model has no predict() and is not callable: define predict_fn in the module")


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    """Encode a prediction as JSON or CSV (one line per row).

    :param prediction: what predict_fn returned.
    :param accept: the wanted media type.
    """
    if hasattr(prediction, "tolist"):
        prediction = prediction.tolist()
    if accept == JSON:
        return json.dumps(prediction).encode(), JSON
    if accept == CSV:
        out = io.StringIO()
        rows = prediction if isinstance(prediction, list) else [prediction]
        csv.writer(out, lineterminator="\n").writerows(row if isinstance(row, list) else [row] for row in rows)
        return out.getvalue().encode(), CSV
    raise HandlerError(406, f"unsupported accept {accept!r}; ask for application/json or text/csv")


def _number(cell: str) -> Any:
    try:
        return float(cell)
    except ValueError:
        return cell


def load_module(name: str) -> Any:
    """Import the inference module from /opt/ml/model/code or the image's code folder.

    :param name: the file name, e.g. ``inference.py``.
    """
    folders = [os.path.join(MODEL_DIR, "code"), os.environ.get("ML_LIFECYCLE_CODE_DIR", os.getcwd())]
    for folder in folders:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            sys.path.insert(0, folder)
            spec = importlib.util.spec_from_file_location(os.path.splitext(name)[0], path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise FileNotFoundError(f"no inference module {name!r} in {' or '.join(folders)}; set SAGEMAKER_PROGRAM")


class Service:
    """The loaded model and the handler chain."""

    def __init__(self) -> None:
        self.error = ""
        self.model: Any = None
        self.module: Any = None
        try:
            name = os.environ.get("SAGEMAKER_PROGRAM") or os.environ.get("ML_LIFECYCLE_INFERENCE_MODULE", "")
            self.module = load_module(name or "inference.py")
            if not hasattr(self.module, "model_fn"):
                raise AttributeError(f"{name} defines no model_fn(model_dir)")
            self.model = self.module.model_fn(MODEL_DIR)
        except Exception as exc:  # /ping reports it; the server still starts
            traceback.print_exc()
            self.error = f"model not loaded: {type(exc).__name__}: {exc}"

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """Run the handler chain on one request.

        :param body: the request body.
        :param content_type: its media type.
        :param accept: the wanted media type.
        """
        module = self.module
        if hasattr(module, "transform_fn"):
            result = module.transform_fn(self.model, body, content_type, accept)
            payload, media = result if isinstance(result, tuple) else (result, accept)
        else:
            data = getattr(module, "input_fn", default_input_fn)(body, content_type)
            prediction = getattr(module, "predict_fn", default_predict_fn)(data, self.model)
            result = getattr(module, "output_fn", default_output_fn)(prediction, accept)
            payload, media = result if isinstance(result, tuple) else (result, accept)
        return (payload.encode() if isinstance(payload, str) else bytes(payload)), media


class Handler(BaseHTTPRequestHandler):
    """GET /ping, POST /invocations."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "ml-lifecycle-serve"
    sys_version = ""
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def respond(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
        head = (
            f"{self.protocol_version} {status} {HTTPStatus(status).phrase}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        self.wfile.write(head + body)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/ping":
            self.respond(404, b"no such path\n")
        elif self.server.service.error:
            self.respond(503, self.server.service.error.encode())
        else:
            self.respond(200)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?", 1)[0] != "/invocations":
            self.respond(404, b"no such path\n")
            return
        service = self.server.service
        if service.error:
            self.respond(503, service.error.encode())
            return
        content_type = (self.headers.get("Content-Type") or JSON).split(";", 1)[0].strip().lower()
        accept = (self.headers.get("Accept") or "").split(";", 1)[0].strip().lower()
        if accept in ("", "*/*"):
            accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)
        try:
            payload, media = service.invoke(body, content_type, accept)
            self.respond(200, payload, media)
        except Exception as exc:
            status = getattr(exc, "status_code", 500)
            if status >= 500:
                traceback.print_exc()
            self.respond(status if 400 <= status < 600 else 500, f"{type(exc).__name__}: {exc}\n".encode())


class Server(ThreadingHTTPServer):
    """A threaded server holding the service."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], service: Service) -> None:
        self.service = service
        super().__init__(address, Handler)


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: Any) -> None:
    raise _Stop(signum)


def main(argv: list[str]) -> int:
    """Load the model and serve until SIGTERM.

    :param argv: extra arguments (ignored).
    """
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT") or 8080)
    try:
        service = Service()
        server = Server(("0.0.0.0", port), service)
    except _Stop:
        return 0
    print(f"serve: listening on 0.0.0.0:{port}" + (f" ({service.error}; /ping answers 503)" if service.error else ""))
    sys.stdout.flush()
    with contextlib.suppress(_Stop):
        server.serve_forever(poll_interval=3600)
    server.server_close()
    print("serve: stopped by signal", flush=True)
    return 0
