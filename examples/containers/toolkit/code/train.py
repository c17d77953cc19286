"""A script-mode training script, run by the SageMaker training toolkit (``train`` in the image).

It uses only what the toolkit hands a user script: hyperparameters as command-line arguments
(``--epochs 3 --learning-rate 0.1``) and the ``SM_*`` environment. It writes
``$SM_MODEL_DIR/seen-<current host>.json`` with everything it saw, so tests can check that the
toolkit read our /opt/ml/input/config files the way SageMaker's framework images do, and
"trains" with numpy (the mean of the first column of the train channel's CSV files).

Hyperparameter ``fail`` = ``yes`` makes it raise, to exercise the toolkit's failure path.

With several hosts it first meets every peer over TCP (``--rendezvous-port``), as distributed training
frameworks do at start-up: no host exits before every peer has passed the toolkit's DNS wait, which
needs every host's name to resolve (a host that has exited may no longer resolve). ``--rendezvous no``
skips it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time

import numpy as np

SEEN_ENV_PREFIXES = ("SM_", "SAGEMAKER_")
SEEN_ENV_NAMES = ("TRAINING_JOB_NAME", "CURRENT_HOST", "AWS_REGION")


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Parse the hyperparameters the toolkit passes as ``--name value``; keep any others aside.

    :param argv: the command-line arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--fail", default="no")
    parser.add_argument("--rendezvous", default="yes")
    parser.add_argument("--rendezvous-port", type=int, default=7777)
    parser.add_argument("--rendezvous-timeout", type=float, default=120.0)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    return parser.parse_known_args(argv)


def channel_files(folder: str) -> list[str]:
    """List a channel's files, relative to the channel folder, sorted.

    :param folder: the channel folder.
    """
    found = []
    for root, _dirs, names in os.walk(folder):
        found += [os.path.relpath(os.path.join(root, name), folder) for name in names]
    return sorted(found)


def first_column_mean(folder: str, files: list[str]) -> float | None:
    """Train something trivial: the mean of the first column over the channel's CSV files.

    :param folder: the channel folder.
    :param files: the channel's files, relative to ``folder``.
    """
    columns = [np.loadtxt(os.path.join(folder, f), delimiter=",", ndmin=2)[:, 0] for f in files if f.endswith(".csv")]
    return float(np.concatenate(columns).mean()) if columns else None


def rendezvous(host: str, hosts: list[str], port: int, timeout_s: float) -> list[str]:
    """Meet every peer: say hello to each, then wait for each one's hello; return the peers heard.

    A peer's hello means its script runs, so it is past the toolkit's DNS wait for every host.

    :param host: this host (SM_CURRENT_HOST).
    :param hosts: every host (SM_HOSTS).
    :param port: the TCP port every host listens on.
    :param timeout_s: give up after this many seconds.
    """
    peers = sorted(h for h in hosts if h != host)
    deadline = time.monotonic() + timeout_s
    with socket.create_server(("", port)) as server:
        for peer in peers:
            while True:
                try:
                    with socket.create_connection((peer, port), timeout=2) as conn:
                        conn.sendall(host.encode())
                    break
                except OSError as err:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{host} could not reach {peer}:{port}: {err}") from err
                    time.sleep(0.2)
        heard: set[str] = set()
        while heard != set(peers):
            server.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                conn, _ = server.accept()
            except TimeoutError as err:
                raise TimeoutError(f"{host} heard only {sorted(heard)} of {peers}") from err
            with conn:
                heard.add(conn.recv(256).decode())
    return sorted(heard)


def main(argv: list[str]) -> int:
    """Record what the toolkit gave us, train, and save the model.

    :param argv: the command-line arguments.
    """
    args, unknown = parse_args(argv)
    if args.fail == "yes":
        raise RuntimeError(f"asked to fail on {os.environ.get('SM_CURRENT_HOST')}")
    host = os.environ["SM_CURRENT_HOST"]
    hosts = json.loads(os.environ["SM_HOSTS"])
    peers_heard = []
    if len(hosts) > 1 and args.rendezvous == "yes":
        peers_heard = rendezvous(host, hosts, args.rendezvous_port, args.rendezvous_timeout)
    files = channel_files(args.train)
    mean = first_column_mean(args.train, files)
    seen = {
        "argv": argv,
        "args": vars(args),
        "unknown_args": unknown,
        "env": {k: v for k, v in os.environ.items() if k.startswith(SEEN_ENV_PREFIXES) or k in SEEN_ENV_NAMES},
        "train_files": files,
        "peers_heard": peers_heard,
        "cwd": os.getcwd(),
        "python": sys.executable,
        "numpy": np.__version__,
    }
    os.makedirs(args.model_dir, exist_ok=True)
    with open(os.path.join(args.model_dir, f"seen-{host}.json"), "w") as out:
        json.dump(seen, out, indent=1, sort_keys=True)
    with open(os.path.join(args.model_dir, f"model-{host}.json"), "w") as out:
        json.dump({"target_mean": mean, "epochs": args.epochs, "learning_rate": args.learning_rate}, out)
    print(f"epochs={args.epochs}; learning_rate={args.learning_rate}; target_mean={mean};", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
