"""StreamedInvocation against a real HTTP server on a socket: chunked bodies out, streamed answers back, failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ml_lifecycle.compute.local.transform.streamed_invoke import (
    StreamedInvocation,
    StreamedInvocationError,
    assembled,
    with_retries,
)


class Handler(BaseHTTPRequestHandler):
    """Reads chunked bodies piece by piece and answers by path: /echo streams the body back upper-cased."""

    protocol_version = "HTTP/1.1"
    seen: list[dict[str, object]] = []

    def log_message(self, *args: object) -> None:
        """Stay quiet."""

    def _chunks(self) -> Iterator[bytes]:
        """Yield the request body's chunks as they arrive."""
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                self.rfile.readline()
                return
            data = self.rfile.read(size)
            self.rfile.readline()
            yield data

    def handle_one_request(self) -> None:
        """Serve one request; a client that went away is no error here."""
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_POST(self) -> None:
        """Answer by path."""
        record = {
            "transfer_encoding": self.headers.get("Transfer-Encoding"),
            "content_type": self.headers.get("Content-Type"),
        }
        Handler.seen.append(record)
        if self.path == "/refuse":
            body = b"bad input"
            self.send_response(400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path == "/half":  # answers, then neither reads the rest of the body nor ends the answer
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nfirst\r\n")
            self.wfile.flush()
            time.sleep(10)
            return
        pieces = list(self._chunks()) if self.path != "/echo" else None
        if self.path == "/fail":
            body = b"model crashed"
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path == "/silent":
            time.sleep(3)
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        largest = 0
        for piece in self._chunks() if pieces is None else pieces:
            largest = max(largest, len(piece))
            out = piece.upper()
            self.wfile.write(f"{len(out):x}\r\n".encode() + out + b"\r\n")
            if self.path == "/cut":
                self.wfile.flush()
                self.connection.shutdown(2)
                return
        self.wfile.write(b"0\r\n\r\n")
        record["largest_piece"] = largest


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    """A threaded HTTP server on a free port of 127.0.0.1."""
    Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _invocation(server: ThreadingHTTPServer, path: str, timeout_s: float = 5) -> StreamedInvocation:
    return StreamedInvocation("127.0.0.1", server.server_address[1], timeout_s, {"Content-Type": "text/csv"}, path)


def test_the_body_goes_out_chunked_and_the_answer_streams_back_piece_by_piece(server):
    pieces = (bytes([97 + i % 26]) * 65536 for i in range(200))  # 12.5 MiB, produced lazily

    answer = _invocation(server, "/echo").answer(pieces)
    received = b"".join(answer)

    assert received == b"".join(bytes([65 + i % 26]) * 65536 for i in range(200))
    assert Handler.seen[0]["transfer_encoding"] == "chunked"
    assert Handler.seen[0]["content_type"] == "text/csv"
    assert Handler.seen[0]["largest_piece"] == 65536  # never gathered into one body on the way


def test_empty_pieces_do_not_end_the_body_early(server):
    answer = b"".join(_invocation(server, "/echo").answer([b"a,b\n", b"", b"c,d\n"]))
    assert answer == b"A,B\nC,D\n"


@pytest.mark.parametrize(
    ("path", "message", "retryable"),
    [
        ("/fail", "HTTP 500: model crashed", True),
        ("/refuse", "HTTP 400: bad input", False),
        ("/silent", "no byte within 1 s (invocation_timeout_s)", True),
        ("/cut", "the answer broke off", True),
    ],
)
def test_failures_say_what_happened_and_whether_a_retry_may_help(server, path, message, retryable):
    with pytest.raises(StreamedInvocationError) as caught:
        b"".join(_invocation(server, path, timeout_s=1).answer([b"x" * 10, b"y" * 10]))
    assert message in str(caught.value)
    assert f"POST {path} (chunked) on 127.0.0.1:" in str(caught.value)
    assert caught.value.retryable is retryable


def test_an_early_answer_ends_the_exchange_without_waiting_for_the_body(server):
    endless = (b"x" * 65536 for _ in iter(int, 1))  # the container answers before reading any of it

    with pytest.raises(StreamedInvocationError) as caught:
        b"".join(_invocation(server, "/refuse", timeout_s=5).answer(endless))
    assert "HTTP 400: bad input" in str(caught.value)
    assert not caught.value.retryable


def test_an_input_that_fails_to_read_fails_with_its_own_error(server):
    class BrokenInput(Exception):
        """An input stream that breaks midway."""

    def body() -> Iterator[bytes]:
        yield b"a,b\n" * 1000
        raise BrokenInput("the gzip stream is corrupt at byte 4000")

    with pytest.raises(BrokenInput, match="corrupt at byte 4000"):
        b"".join(_invocation(server, "/echo").answer(body()))


def test_closing_the_answer_early_stops_the_sender_and_closes_the_input(server):
    closed = threading.Event()

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"x" * 65536
        finally:
            closed.set()

    answer = _invocation(server, "/half", timeout_s=30).answer(endless())
    assert next(answer) == b"first"
    answer.close()  # the consumer failed (e.g. the output store): the exchange ends now, not after timeout_s

    assert closed.is_set()


def test_a_refused_connection_is_retryable():
    invocation = StreamedInvocation("127.0.0.1", 9, 1, {})
    with pytest.raises(StreamedInvocationError) as caught:
        b"".join(invocation.answer([b"x"]))
    assert caught.value.retryable
    assert "ConnectionRefusedError" in str(caught.value)


@pytest.mark.parametrize(
    ("pieces", "assemble_with", "expected"),
    [
        ([b"1\n", b"2"], "Line", b"1\n2\n"),
        ([b"1\n", b"2\n"], "Line", b"1\n2\n"),
        ([], "Line", b"\n"),
        ([b"1\n", b"2"], "None", b"1\n2"),
        ([], "None", b""),
    ],
)
def test_assembled_ends_line_outputs_in_one_newline(pieces, assemble_with, expected):
    assert b"".join(assembled(pieces, assemble_with)) == expected


@pytest.mark.parametrize(
    ("failures", "retryable", "max_retries", "tries", "raises"),
    [
        (0, True, 3, 1, False),
        (2, True, 3, 3, False),
        (4, True, 3, 4, True),
        (1, False, 3, 1, True),
        (1, True, 0, 1, True),
    ],
)
def test_with_retries_retries_only_retryable_failures(failures, retryable, max_retries, tries, raises):
    calls = []

    def attempt() -> None:
        calls.append(1)
        if len(calls) <= failures:
            raise StreamedInvocationError(f"try {len(calls)}", retryable)

    if raises:
        with pytest.raises(StreamedInvocationError):
            with_retries(attempt, max_retries, pause_s=lambda n: 0)
    else:
        with_retries(attempt, max_retries, pause_s=lambda n: 0)
    assert len(calls) == tries
