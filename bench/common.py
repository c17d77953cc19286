"""Shared helpers: the project's environment, the machine, the engine, the example image and data, statistics."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
RESULTS = BENCH_DIR / "results"
LOGS = RESULTS / "logs"
EXAMPLE_CONTEXT = REPO / "examples" / "containers" / "linear"
GENERATE = REPO / "examples" / "data" / "generate.py"
BENCH_IMAGE = "ml-lifecycle/linear:bench"


class BenchError(RuntimeError):
    """A benchmark cannot run (missing engine, image, failed job); the message says how to fix it."""


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def project_env() -> dict[str, str]:
    """The environment scripts/env.sh gives the project's scripts (on top of this process's environment)."""
    out = subprocess.run(
        ["bash", "-c", "source scripts/env.sh && env -0"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    env = {}
    for item in out.split(b"\0"):
        if b"=" in item:
            key, _, value = item.partition(b"=")
            env[key.decode()] = value.decode(errors="replace")
    return env


def venv_python(env: dict[str, str]) -> str:
    """The project's python (the one scripts/env.sh puts first on PATH)."""
    found = shutil.which("python", path=env.get("PATH"))
    if not found:
        raise BenchError("No python on the project's PATH; run `make venv` (scripts/setup-venv.sh) first")
    return found


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI and return the completed process (text output captured)."""
    try:
        done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as err:
        raise BenchError("The docker CLI is not installed; run `bash scripts/bootstrap.sh engine`") from err
    except subprocess.TimeoutExpired as err:
        raise BenchError(f"`docker {' '.join(args)}` did not answer within {timeout} s") from err
    if check and done.returncode != 0:
        raise BenchError(f"`docker {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return done


def require_engine() -> str:
    """Return the Docker server version, or raise a BenchError that says how to start the engine."""
    if shutil.which("docker") is None:
        raise BenchError("The docker CLI is not installed; run `bash scripts/bootstrap.sh engine` (or `make stack`)")
    done = docker("version", "--format", "{{.Server.Version}}", timeout=20, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise BenchError(
            "The Docker engine does not answer (`docker version` failed: "
            f"{(done.stderr or done.stdout).strip()[-300:]}). Start it with `bash scripts/bootstrap.sh engine` "
            "(or `make stack`), or point DOCKER_HOST at one"
        )
    return done.stdout.strip()


def ensure_bench_image() -> str:
    """Build the example linear image as BENCH_IMAGE (layer cache makes this cheap) and return its id."""
    require_engine()
    base = os.environ.get("BASE_IMAGE", "python:3.11-slim")
    if docker("image", "inspect", base, check=False).returncode != 0:
        raise BenchError(f"The base image {base} is missing; run `bash scripts/bootstrap.sh all` (or `make stack`)")
    docker("build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", BENCH_IMAGE, str(EXAMPLE_CONTEXT), timeout=600)
    return docker("image", "inspect", "--format", "{{.Id}}", BENCH_IMAGE).stdout.strip()


def ensure_data(rows: int) -> Path:
    """Generate (once; cached under bench/results/data) the example data set with ``rows`` training rows."""
    target = RESULTS / "data" / f"rows-{rows}"
    truth = target / "truth.json"
    if truth.is_file():
        with contextlib.suppress(ValueError, OSError):
            if json.loads(truth.read_text()).get("train_rows") == rows:
                return target
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(
        [
            sys.executable,
            str(GENERATE),
            "--out",
            str(target),
            "--rows",
            str(rows),
            "--files",
            "4",
            "--validation-rows",
            "1",
            "--score-rows",
            "1",
        ],
        check=True,
        capture_output=True,
    )
    return target


def fresh_dir(path: Path) -> Path:
    """Empty (or create) a folder and return it."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def env_vars(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of the block."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to a file for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Runs, median, min and max of some timings (seconds), and the timings themselves."""
    return {
        "runs": len(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "values": list(values),
    }


def ratio_of(ours: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """The ratio of medians, and the range of the per-pair ratios when the runs were paired (alternated)."""
    out: dict[str, Any] = {"ratio": ours["median"] / baseline["median"]}
    pairs = [a / b for a, b in zip(ours["values"], baseline["values"], strict=False) if b > 0]
    if pairs:
        out["pair_ratio_min"] = min(pairs)
        out["pair_ratio_max"] = max(pairs)
    return out


def _meminfo_bytes() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return platform.system()


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    server = docker("version", "--format", "{{.Server.Version}}", timeout=20, check=False)
    try:
        airflow_version = metadata.version("apache-airflow")
    except metadata.PackageNotFoundError:
        airflow_version = "not installed"
    memory = _meminfo_bytes()
    return {
        "date": utc_now(),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": round(memory / 2**30, 1) if memory else None,
        "kernel": platform.release(),
        "os": _os_name(),
        "docker_server": server.stdout.strip() if server.returncode == 0 else "not reachable",
        "python": platform.python_version(),
        "airflow": airflow_version,
    }


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file, for error messages."""
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""
