#!/usr/bin/env python3
"""mlc-proxy-start: hold the endpoint's listening socket on standby, then hand it to nginx on the first SIGHUP.

The socket is bound and listening from the container's start, so the endpoint's port is the proxy's from then on
(nothing else can take it before the first model is routed) and a client that connects early waits in the backlog
instead of meeting a configuration without models. On SIGHUP this process becomes the nginx master (exec), which
inherits the socket through nginx's NGINX environment variable, the mechanism of its binary upgrade. SIGTERM,
SIGQUIT or SIGINT on standby end it.

Environment:
    MLC_PROXY_BIND: the address to listen on (default 127.0.0.1; 0.0.0.0 when the port is published by Docker).
    MLC_PROXY_PORT: the port to listen on (default 0: one the kernel picks, printed and written to PORT_FILE).
"""

from __future__ import annotations

import os
import signal
import socket
import sys

CONFIG = "/etc/mlc-proxy/nginx.conf"
PORT_FILE = "/tmp/mlc-proxy-port"
BACKLOG = 4096
WAKE_SIGNALS = {signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT, signal.SIGINT}


def listen(address: str, port: int) -> socket.socket:
    """Return a non-blocking socket listening on address:port, inheritable across exec.

    :param address: the IPv4 address to bind.
    :param port: the port, or 0 for one the kernel picks.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    # nginx takes an inherited socket as it left it, non-blocking: a blocking one would stall a worker in accept()
    # whenever another worker took the connection it was woken for.
    sock.setblocking(False)
    return sock


def main() -> int:
    """Listen, wait on standby for SIGHUP, then exec nginx with the socket; return an exit code otherwise."""
    address = os.environ.get("MLC_PROXY_BIND") or "127.0.0.1"
    wanted = int(os.environ.get("MLC_PROXY_PORT") or 0)
    # Blocked before the socket exists: a SIGHUP sent as soon as the port is known is queued, never fatal.
    signal.pthread_sigmask(signal.SIG_BLOCK, WAKE_SIGNALS)
    try:
        sock = listen(address, wanted)
    except OSError as err:
        print(f"mlc-proxy: cannot listen on {address}:{wanted}: {err.strerror}", file=sys.stderr, flush=True)
        return 2
    port = sock.getsockname()[1]
    with open(PORT_FILE, "w", encoding="ascii") as out:
        out.write(f"{port}\n")
    print(f"mlc-proxy: listening on {address}:{port}, on standby until the first model", flush=True)
    if signal.sigwait(WAKE_SIGNALS) != signal.SIGHUP:
        return 0
    signal.pthread_sigmask(signal.SIG_UNBLOCK, WAKE_SIGNALS)
    os.environ["NGINX"] = f"{sock.fileno()};"
    os.execvp("nginx", ["nginx", "-e", "stderr", "-c", CONFIG, "-g", "daemon off;"])
    return 1  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main())
