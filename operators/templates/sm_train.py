"""``train``: run the user's training script the way the sagemaker-training toolkit does.

Reads /opt/ml/input/config (hyperparameters, resource and input data config), picks the script from
SAGEMAKER_PROGRAM, the ``sagemaker_program`` hyperparameter or the image's ML_LIFECYCLE_TRAIN_PROGRAM, and
runs it with the toolkit's SM_* environment and ``--name value`` arguments (hyperparameters decoded from
JSON where they parse, sorted by name). Writes /opt/ml/output/success, or /opt/ml/output/failure with the
exit code and the last lines of the script's stderr; exits with the script's code. SIGTERM is passed on.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

BASE = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
CONFIG = os.path.join(BASE, "input", "config")
TAIL_LINES = 20
DNS_WAIT_S = 300.0


def read_json(name: str, default: Any) -> Any:
    """Read one config file, or return the default when it is missing.

    :param name: the file name under input/config.
    :param default: the value when the file is missing.
    """
    path = os.path.join(CONFIG, name)
    if not os.path.isfile(path):
        return default
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def decode(value: Any) -> Any:
    """Decode a hyperparameter string as JSON when it parses, as the toolkit does; else keep the string.

    :param value: the value from hyperparameters.json.
    """
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def as_text(value: Any) -> str:
    """Render a value as the toolkit does in env vars and arguments: strings as they are, others as compact JSON.

    :param value: the value.
    """
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


def to_cmd_args(hyperparameters: dict[str, Any]) -> list[str]:
    """``--name value`` pairs in sorted order (``-n`` for one-letter names).

    :param hyperparameters: the user's hyperparameters, decoded.
    """
    args: list[str] = []
    for name in sorted(hyperparameters):
        args += [f"--{name}" if len(name) > 1 else f"-{name}", as_text(hyperparameters[name])]
    return args


def toolkit_env(program: str, code_dir: str, hps: dict[str, Any], args: list[str]) -> dict[str, str]:
    """The SM_* variables the training toolkit gives a user script.

    :param program: the script.
    :param code_dir: the folder it runs in.
    :param hps: the user's hyperparameters, decoded.
    :param args: the command-line arguments.
    """
    resource = read_json("resourceconfig.json", {"current_host": "algo-1", "hosts": ["algo-1"]})
    data_config = read_json("inputdataconfig.json", {})
    data_dir = os.path.join(BASE, "input", "data")
    channels = sorted(data_config) or (sorted(os.listdir(data_dir)) if os.path.isdir(data_dir) else [])
    env = {
        "SM_MODEL_DIR": os.path.join(BASE, "model"),
        "SM_INPUT_DIR": os.path.join(BASE, "input"),
        "SM_INPUT_CONFIG_DIR": CONFIG,
        "SM_OUTPUT_DIR": os.path.join(BASE, "output"),
        "SM_OUTPUT_DATA_DIR": os.path.join(BASE, "output", "data"),
        "SM_OUTPUT_INTERMEDIATE_DIR": os.path.join(BASE, "output", "intermediate"),
        "SM_CHANNELS": as_text(channels),
        "SM_HPS": as_text(hps),
        "SM_HOSTS": as_text(resource.get("hosts", [])),
        "SM_CURRENT_HOST": resource.get("current_host", "algo-1"),
        "SM_CURRENT_INSTANCE_TYPE": resource.get("current_instance_type", "local"),
        "SM_CURRENT_INSTANCE_GROUP": resource.get("current_group_name", "homogeneousCluster"),
        "SM_NETWORK_INTERFACE_NAME": resource.get("network_interface_name", "eth0"),
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_NUM_GPUS": str(_gpu_count()),
        "SM_LOG_LEVEL": os.environ.get("SM_LOG_LEVEL", "20"),
        "SM_USER_ARGS": as_text(args),
        "SM_USER_ENTRY_POINT": program,
        "SM_MODULE_NAME": os.path.splitext(os.path.basename(program))[0],
        "SM_MODULE_DIR": code_dir,
        "SM_FRAMEWORK_MODULE": "",
        "SM_FRAMEWORK_PARAMS": "{}",
        "SM_RESOURCE_CONFIG": as_text(resource),
        "SM_INPUT_DATA_CONFIG": as_text(data_config),
        "CURRENT_HOST": resource.get("current_host", "algo-1"),
    }
    for channel in channels:
        env[f"SM_CHANNEL_{channel.upper()}"] = os.path.join(data_dir, channel)
    for name, value in hps.items():
        env[f"SM_HP_{name.upper()}"] = as_text(value)
    env["SM_TRAINING_ENV"] = as_text({k[3:].lower(): v for k, v in env.items() if k.startswith("SM_")})
    return env


def _gpu_count() -> int:
    """Count GPUs as the toolkit does (``nvidia-smi --list-gpus``); 0 without nvidia-smi."""
    try:
        done = subprocess.run(["nvidia-smi", "--list-gpus"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return 0
    return len([line for line in done.stdout.splitlines() if line.strip()]) if done.returncode == 0 else 0


def wait_for_hosts(hosts: list[str], current: str) -> None:
    """Wait until every other host's name resolves, as the toolkit does before starting a distributed job.

    :param hosts: all hosts.
    :param current: this host.
    """
    deadline = time.monotonic() + DNS_WAIT_S
    for host in hosts:
        while host != current:
            try:
                socket.gethostbyname(host)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def write_marker(name: str, text: str) -> None:
    """Write output/success or output/failure (failure only when nothing wrote it before).

    :param name: ``success`` or ``failure``.
    :param text: the content.
    """
    folder = os.path.join(BASE, "output")
    path = os.path.join(folder, name)
    if name == "failure" and os.path.exists(path):
        return
    os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def main(argv: list[str]) -> int:
    """Run the user's training script; return its exit code.

    :param argv: extra arguments (ignored, as SageMaker passes only ``train``).
    """
    hps = {name: decode(value) for name, value in read_json("hyperparameters.json", {}).items()}
    program = os.environ.get("SAGEMAKER_PROGRAM") or hps.get("sagemaker_program")
    program = program or os.environ.get("ML_LIFECYCLE_TRAIN_PROGRAM", "")
    code_dir = os.environ.get("ML_LIFECYCLE_CODE_DIR", os.getcwd())
    if not program or not os.path.isfile(os.path.join(code_dir, program)):
        message = (
            f"No training script {program!r} in {code_dir}: this image serves only, or set SAGEMAKER_PROGRAM "
            "(or the sagemaker_program hyperparameter) to a script in it"
        )
        print(message, file=sys.stderr, flush=True)
        write_marker("failure", message)
        return 1
    user_hps = {name: value for name, value in hps.items() if not name.startswith("sagemaker_")}
    args = to_cmd_args(user_hps)
    env = {**os.environ, **toolkit_env(program, code_dir, user_hps, args)}
    resource = read_json("resourceconfig.json", {})
    wait_for_hosts(resource.get("hosts", []), resource.get("current_host", ""))
    command = [sys.executable, program, *args] if program.endswith(".py") else ["/bin/sh", program, *args]
    print(f"train: running {' '.join(command)} in {code_dir}", flush=True)
    child = subprocess.Popen(command, cwd=code_dir, env=env, stderr=subprocess.PIPE)
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signal.SIGTERM))
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    assert child.stderr is not None
    for raw in child.stderr:
        sys.stderr.buffer.write(raw)
        sys.stderr.flush()
        tail.append(raw.decode("utf-8", "replace").rstrip())
    code = child.wait()
    code = 128 - code if code < 0 else code
    if code == 0:
        write_marker("success", "")
        return 0
    reason = "\n".join(tail)
    write_marker("failure", f"ExecuteUserScriptError: ExitCode {code}\nCommand {' '.join(command)}\n{reason}")
    return code
