#!/usr/bin/env python3
"""mlc-proxy-start: hold the endpoint's port on standby, then run the edge and router nginx behind it.

The socket is bound and listening from the container's start, so the endpoint's port is the proxy's from then on
(nothing else can take it before the first model is routed) and a client that connects early waits in the backlog
instead of meeting a configuration without models.

The first SIGHUP starts two nginx masters: the router (nginx.conf, on a unix socket; it routes to the models and is
reloaded on each update) and then the edge (edge.conf), which inherits the listening socket through nginx's NGINX
environment variable (the mechanism of its binary upgrade) and passes every request to the router. The edge is never
reloaded, so clients' kept-alive connections outlive model updates. Later SIGHUPs reload the router. SIGTERM,
SIGQUIT or SIGINT stop both gracefully (requests in flight finish); if either nginx ends, the other is stopped and
this process exits with its code, so the container's state shows it.

Environment:
    MLC_PROXY_BIND: the address to listen on (default 127.0.0.1; 0.0.0.0 when the port is published by Docker).
    MLC_PROXY_PORT: the port to listen on (default 0: one the kernel picks, printed and written to PORT_FILE).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

CONFIG_FOLDER = "/etc/mlc-proxy"
ROUTER_CONFIG = f"{CONFIG_FOLDER}/nginx.conf"
EDGE_CONFIG = f"{CONFIG_FOLDER}/edge.conf"
# Named in the rendered configurations too (ml_lifecycle.agent.proxy_config).
ROUTER_SOCKET = "/tmp/mlc-router.sock"
PORT_FILE = "/tmp/mlc-proxy-port"
BACKLOG = 4096
ROUTER_START_S = 10.0
STOP_SIGNALS = {signal.SIGTERM, signal.SIGQUIT, signal.SIGINT}
WAKE_SIGNALS = {signal.SIGHUP, signal.SIGCHLD} | STOP_SIGNALS


def say(message: str) -> None:
    """Print one line of this process's own to the container's log.

    :param message: the line.
    """
    print(f"mlc-proxy: {message}", flush=True)


def listen(address: str, port: int) -> socket.socket:
    """Return a non-blocking socket listening on address:port.

    :param address: the IPv4 address to bind.
    :param port: the port, or 0 for one the kernel picks.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(BACKLOG)
    # nginx takes an inherited socket as it left it, non-blocking: a blocking one would stall a worker in accept()
    # whenever another worker took the connection it was woken for.
    sock.setblocking(False)
    return sock


def nginx(config: str, inherited: socket.socket | None = None) -> subprocess.Popen[bytes]:
    """Start an nginx master on a configuration, in the foreground.

    :param config: the configuration file.
    :param inherited: a listening socket to hand it, or None.
    """
    env = dict(os.environ)
    pass_fds: tuple[int, ...] = ()
    if inherited is not None:
        env["NGINX"] = f"{inherited.fileno()};"
        pass_fds = (inherited.fileno(),)
    return subprocess.Popen(
        ["nginx", "-e", "stderr", "-c", config, "-g", "daemon off;"],
        env=env,
        pass_fds=pass_fds,
        # Its own signal mask, not this process's blocked one: nginx must receive what it is sent.
        preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, set()),
    )


def start_router() -> subprocess.Popen[bytes] | None:
    """Start the router and wait until its socket exists; return it, or None when it ended first."""
    router = nginx(ROUTER_CONFIG)
    deadline = time.monotonic() + ROUTER_START_S
    while not os.path.exists(ROUTER_SOCKET):
        if router.poll() is not None or time.monotonic() > deadline:
            say(f"the router nginx did not listen on {ROUTER_SOCKET} (exit code {router.poll()})")
            router.kill()
            return None
        time.sleep(0.001)
    return router


def stop(masters: list[subprocess.Popen[bytes]]) -> None:
    """Stop nginx masters gracefully (SIGQUIT) and wait for them.

    :param masters: the running masters.
    """
    for master in masters:
        if master.poll() is None:
            master.send_signal(signal.SIGQUIT)
    for master in masters:
        master.wait()


def serve(sock: socket.socket) -> int:
    """Run the router and the edge until told to stop or until one ends; return the exit code.

    :param sock: the listening socket, handed to the edge.
    """
    router = start_router()
    if router is None:
        return 3
    edge = nginx(EDGE_CONFIG, inherited=sock)
    masters = [edge, router]
    while True:
        received = signal.sigwait(WAKE_SIGNALS)
        if received == signal.SIGHUP:
            router.send_signal(signal.SIGHUP)
        elif received in STOP_SIGNALS:
            stop(masters)
            return 0
        else:
            ended = [(name, m.poll()) for name, m in (("edge", edge), ("router", router)) if m.poll() is not None]
            if ended:
                say(f"the {ended[0][0]} nginx ended (exit code {ended[0][1]}); stopping the other")
                stop(masters)
                return ended[0][1] or 4


def main() -> int:
    """Listen, wait on standby for SIGHUP, then serve; return the exit code."""
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
    say(f"listening on {address}:{port}, on standby until the first model")
    while True:
        received = signal.sigwait(WAKE_SIGNALS)
        if received == signal.SIGHUP:
            return serve(sock)
        if received in STOP_SIGNALS:
            return 0


if __name__ == "__main__":
    sys.exit(main())
