#!/usr/bin/env python3
"""mlc-proxy-start: hold the endpoint's port on standby, then run the edge and router nginx behind it.

The socket is bound and listening from the container's start, so the endpoint's port is the proxy's from then on
(nothing else can take it before the first model is routed) and a client that connects early waits in the backlog
instead of meeting a configuration without models.

The first SIGHUP starts two nginx masters: the router (nginx.conf, on a unix socket; it routes to the models and is
reloaded on each update) and then the edge (edge.conf), which inherits the listening socket through nginx's NGINX
environment variable (the mechanism of its binary upgrade) and passes every request to the router. The edge is never
reloaded, so clients' kept-alive connections outlive model updates. Later SIGHUPs reload the router. SIGTERM,
SIGQUIT or SIGINT stop the edge gracefully (requests in flight finish), then the router; if either nginx ends, the
other is stopped and this process exits with its code, so the container's state shows it. As PID 1 it also reaps
orphans.

Environment:
    MLC_PROXY_BIND: the address to listen on (default 127.0.0.1; 0.0.0.0 when the port is published by Docker).
    MLC_PROXY_PORT: the port to listen on (default 0: one the kernel picks, printed and written to PORT_FILE).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

CONFIG_FOLDER = "/etc/mlc-proxy"
ROUTER_CONFIG = f"{CONFIG_FOLDER}/nginx.conf"
EDGE_CONFIG = f"{CONFIG_FOLDER}/edge.conf"
# Named in the rendered configurations and reload.sh too (ml_lifecycle.compute.local.endpoints.proxy_config).
ROUTER_SOCKET = "/tmp/mlc-router.sock"
ROUTER_PID_FILE = "/tmp/nginx.pid"
EDGE_PID_FILE = "/tmp/nginx-edge.pid"
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


def router_answers() -> bool:
    """Say whether the router accepts connections on its unix socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(ROUTER_SOCKET)
        except OSError:
            return False
    return True


class Masters:
    """The two nginx masters: started, signalled, reaped (this is PID 1, so it reaps every orphan too)."""

    def __init__(self) -> None:
        """Start with none."""
        self.running: dict[int, tuple[str, subprocess.Popen[bytes]]] = {}
        self.ended: list[tuple[str, int]] = []

    def start(self, name: str, process: subprocess.Popen[bytes]) -> None:
        """Track a started master.

        :param name: ``edge`` or ``router``.
        :param process: its process.
        """
        self.running[process.pid] = (name, process)

    def pid_of(self, name: str) -> int | None:
        """Return the pid of a running master, or None.

        :param name: ``edge`` or ``router``.
        """
        return next((pid for pid, (known, _) in self.running.items() if known == name), None)

    def reap(self) -> None:
        """Collect every child that ended; note the masters among them."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.running:
                name, process = self.running.pop(pid)
                process.returncode = os.waitstatus_to_exitcode(status)
                self.ended.append((name, process.returncode))

    def stop(self, name: str) -> None:
        """Stop a master gracefully (SIGQUIT: requests in flight finish) and wait until it has ended.

        :param name: ``edge`` or ``router``.
        """
        pid = self.pid_of(name)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)
        while pid in self.running:
            signal.sigwait({signal.SIGCHLD})
            self.reap()


def start_router(masters: Masters) -> bool:
    """Start the router and wait until it accepts connections; return whether it does.

    :param masters: where the router is tracked.
    """
    masters.start("router", nginx(ROUTER_CONFIG))
    deadline = time.monotonic() + ROUTER_START_S
    while not router_answers():
        masters.reap()
        if masters.pid_of("router") is None or time.monotonic() > deadline:
            say(f"the router nginx did not listen on {ROUTER_SOCKET} (it ended: {masters.ended})")
            masters.stop("router")
            return False
        time.sleep(0.001)
    return True


def serve(sock: socket.socket) -> int:
    """Run the router and the edge until told to stop or until one ends; return the exit code.

    :param sock: the listening socket, handed to the edge.
    """
    masters = Masters()
    if not start_router(masters):
        return 3
    masters.start("edge", nginx(EDGE_CONFIG, inherited=sock))
    # The edge has its own copy: once it closes it on a stop, new clients are refused, not left in the backlog.
    sock.close()
    while True:
        received = signal.sigwait(WAKE_SIGNALS)
        if received == signal.SIGHUP:
            router = masters.pid_of("router")
            if router is not None:
                os.kill(router, signal.SIGHUP)
        elif received in STOP_SIGNALS:
            # The edge first: its requests in flight still need the router.
            masters.stop("edge")
            masters.stop("router")
            return 0
        else:
            masters.reap()
            if masters.ended:
                name, code = masters.ended[0]
                say(f"the {name} nginx ended (exit code {code}); stopping the other")
                masters.stop("edge")
                masters.stop("router")
                return code or 4


def main() -> int:
    """Listen, wait on standby for SIGHUP, then serve; return the exit code."""
    address = os.environ.get("MLC_PROXY_BIND") or "127.0.0.1"
    wanted = int(os.environ.get("MLC_PROXY_PORT") or 0)
    # Blocked before the socket exists: a SIGHUP sent as soon as the port is known is queued, never fatal.
    signal.pthread_sigmask(signal.SIG_BLOCK, WAKE_SIGNALS)
    # What a previous run of this container left (docker restart) would mislead the router's start and reloads.
    for leftover in (ROUTER_SOCKET, ROUTER_PID_FILE, EDGE_PID_FILE, PORT_FILE):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(leftover)
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
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass  # an orphan of a docker exec: reaped


if __name__ == "__main__":
    sys.exit(main())
