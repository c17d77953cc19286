"""MaxPayloadInMB=0: one POST per input object, its body sent with chunked encoding and its answer streamed back."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ml_lifecycle.compute.local.serving.http_client import InvocationError

READ_BYTES = 1 << 20
ERROR_BODY_BYTES = 500


class StreamedInvocationError(InvocationError):
    """A streamed POST failed; retryable says whether a new try may succeed (no answer, or a 5xx)."""

    def __init__(self, message: str, retryable: bool) -> None:
        """Keep the message and whether a retry may help.

        :param message: what went wrong.
        :param retryable: True for connection errors, timeouts and 5xx answers.
        """
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class StreamedInvocation:
    """Where a streamed POST goes and how long it may wait for each read or write.

    :param host: the container's address.
    :param port: its published port.
    :param timeout_s: the most seconds any one send or receive may wait (invocation_timeout_s).
    :param headers: Content-Type, Accept and the like; Transfer-Encoding is added.
    :param path: the path to POST to.
    """

    host: str
    port: int
    timeout_s: float
    headers: dict[str, str]
    path: str = "/invocations"

    def answer(self, body: Iterable[bytes]) -> Iterator[bytes]:
        """POST body (chunked, as it streams) and yield the answer in pieces; one try, on its own connection.

        The body is sent from a thread while the answer is read, so a container that answers while it still reads
        (a streaming one) never waits on us. Nothing is held but one piece in each direction. A failure raises
        StreamedInvocationError, or the input's own error when reading the input failed; the caller writes the
        pieces atomically, so a failed try leaves no partial output.

        :param body: the request body, as it streams from the input object.
        """
        where = f"POST {self.path} (chunked) on {self.host}:{self.port}"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        sender: _BodySender | None = None
        try:
            try:
                conn.putrequest("POST", self.path, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    conn.putheader(name, value)
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                sender = _BodySender(conn, body)
                sender.start()
                response = conn.getresponse()
            except TimeoutError as err:
                raise self._failed(sender, f"{where} failed: {self._timeout()}") from err
            except (OSError, http.client.HTTPException) as err:
                raise self._failed(sender, f"{where} failed: {type(err).__name__}: {err}") from err
            if response.status >= 400:
                text = response.read(ERROR_BODY_BYTES).decode("utf-8", "replace")
                raise StreamedInvocationError(
                    f"{where} failed: HTTP {response.status}: {text}", retryable=response.status >= 500
                )
            yield from self._pieces(response, where, sender)
            sender.finish(self.timeout_s)
        finally:
            if sender is not None and sender.is_alive():
                _shut(sender.sock)  # wakes a sender blocked on a container that stopped reading
            conn.close()
            if sender is not None:
                sender.join(self.timeout_s)

    def _failed(self, sender: _BodySender | None, message: str) -> Exception:
        """Return the error to raise for a failed exchange: the input's own error when reading it failed.

        :param sender: the body's sender, when it started.
        :param message: what the exchange saw.
        """
        if sender is not None and sender.input_error is not None:
            return sender.input_error
        return StreamedInvocationError(message, retryable=True)

    def _pieces(self, response: http.client.HTTPResponse, where: str, sender: _BodySender) -> Iterator[bytes]:
        """Yield a successful answer in pieces of at most READ_BYTES.

        :param response: the response, its status read.
        :param where: the request, for error messages.
        :param sender: the body's sender.
        """
        while True:
            try:
                piece = response.read1(READ_BYTES)
            except TimeoutError as err:
                raise self._failed(sender, f"{where}: the answer stopped: {self._timeout()}") from err
            except (OSError, http.client.HTTPException) as err:
                raise self._failed(sender, f"{where}: the answer broke off: {type(err).__name__}: {err}") from err
            if not piece:
                return
            yield piece

    def _timeout(self) -> str:
        """Say that the container stayed silent for too long."""
        return f"no byte within {self.timeout_s:.0f} s (invocation_timeout_s)"


class _BodySender(threading.Thread):
    """Sends a request body as chunks on a connection whose headers went out, while another thread reads the answer."""

    def __init__(self, conn: http.client.HTTPConnection, body: Iterable[bytes]) -> None:
        """Hold the connection and the body.

        :param conn: the connection, its request headers sent.
        :param body: the body's pieces.
        """
        super().__init__(name="invoke-body", daemon=True)
        self.conn = conn
        # Straight to the socket: once the connection is closed, a send fails instead of reconnecting.
        self.sock: socket.socket = conn.sock
        self.body = body
        self.input_error: Exception | None = None
        self.send_error: Exception | None = None

    def run(self) -> None:
        """Send every non-empty piece as a chunk, then the last chunk; on an input error, break the connection."""
        pieces = iter(self.body)
        try:
            self._send_all(pieces)
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # the input's stream ends with this try, not when the garbage collector finds it

    def _send_all(self, pieces: Iterator[bytes]) -> None:
        """Send the pieces as chunks, then the last chunk.

        :param pieces: the body's pieces.
        """
        while True:
            try:
                piece = next(pieces, None)
            except Exception as err:  # reading the input failed: the request must not look complete
                self.input_error = err
                _shut(self.sock)
                return
            try:
                if piece is None:
                    self.sock.sendall(b"0\r\n\r\n")
                    return
                if piece:  # an empty chunk would end the body early
                    self.sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
            except OSError as err:  # the container stopped reading (it answered early, or went away)
                self.send_error = err
                return

    def finish(self, timeout_s: float) -> None:
        """After a complete answer, wait for the sender and raise the input's error if reading it failed.

        :param timeout_s: the most seconds to wait for the sender.
        """
        self.join(timeout_s)
        if self.input_error is not None:
            raise self.input_error


def _shut(sock: socket.socket) -> None:
    """Shut a socket down both ways, so that a thread blocked on it in either direction returns at once.

    :param sock: the connection's socket.
    """
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def assembled(pieces: Iterable[bytes], assemble_with: str) -> Iterator[bytes]:
    """Pass a streamed answer through; with ``Line`` make it end in a newline, as assemble() does for whole answers.

    :param pieces: the answer's pieces.
    :param assemble_with: ``Line`` or ``None``.
    """
    last = b""
    for piece in pieces:
        last = piece
        yield piece
    if assemble_with == "Line" and not last.endswith(b"\n"):
        yield b"\n"


def with_retries(
    attempt: Callable[[], None], max_retries: int, pause_s: Callable[[int], float] = lambda n: min(0.05 * 2**n, 1.0)
) -> None:
    """Run attempt until it succeeds, retrying retryable StreamedInvocationErrors up to max_retries times.

    :param attempt: one whole try (it re-reads the input from the start and writes the output atomically).
    :param max_retries: retries after the first try.
    :param pause_s: seconds to wait before retry n (from 0).
    """
    for number in range(max_retries + 1):
        try:
            attempt()
            return
        except StreamedInvocationError as err:
            if not err.retryable or number == max_retries:
                raise
        time.sleep(pause_s(number))
