"""The execution role's credentials for a local endpoint's containers, renewed for as long as they run.

A training job's containers get them from a server its agent runs while the job lasts; an endpoint's containers
outlive the task that deployed them. So each revision with a role gets a small detached agent of its own that
assumes the role (renewing it before it expires) and serves it as ECS does, on 169.254.170.2. The agent ends
itself once no container of its revision exists (the revision retired, the endpoint deleted, or its deploy failed),
so nothing needs to remember to stop it.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from ml_lifecycle.compute.base import LogSink
from ml_lifecycle.compute.local.credentials.access import container_aws_access
from ml_lifecycle.compute.local.detached import collect_later, launch_detached
from ml_lifecycle.core import labels

CHECK_S = 2.0  # how often the agent looks for its revision's containers
READY_TIMEOUT_S = 15.0
ENVIRONMENT_FILE = "credentials-environment.json"


def serve_role_credentials(
    role_arn: str | None,
    endpoint_name: str,
    revision: str,
    revision_dir: Path,
    aws_conn_id: str | None,
    startup_grace_s: float,
    sink: LogSink,
) -> dict[str, str]:
    """Start the revision's credentials agent; return the containers' environment that points them at it ({} without
    a role). A role that cannot be assumed fails here, before any container starts.

    :param role_arn: the execution role, or None.
    :param endpoint_name: the endpoint's name.
    :param revision: the revision its containers carry.
    :param revision_dir: the revision's folder (the agent's log and the environment it hands over go there).
    :param aws_conn_id: the Airflow AWS connection that assumes the role.
    :param startup_grace_s: how long the agent waits for the revision's first container before it ends itself.
    :param sink: the task log.
    """
    if not role_arn:
        return {}
    access = container_aws_access(role_arn, endpoint_name, aws_conn_id, sink, uses_s3=True)
    revision_dir.mkdir(parents=True, exist_ok=True)
    handover = revision_dir / ENVIRONMENT_FILE
    handover.unlink(missing_ok=True)
    wanted = {labels.ENDPOINT: endpoint_name, labels.REVISION: revision}

    def run(out: LogSink) -> int:
        with access.serving() as environment:
            _write_private(handover, json.dumps(environment))
            out(f"credentials of {role_arn} served for endpoint {endpoint_name} revision {revision}")
            _serve_while_containers_exist(wanted, revision_dir, startup_grace_s)
        out("no container of the revision is left: credentials no longer served")
        return 0

    pid = launch_detached(run, revision_dir / "credentials-agent.log")
    deadline_s = time.monotonic() + READY_TIMEOUT_S
    while not handover.is_file():
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished or time.monotonic() > deadline_s:
            if not finished:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            log_text = (revision_dir / "credentials-agent.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"The credentials agent of endpoint {endpoint_name} did not start: {log_text}")
        time.sleep(0.05)
    environment = dict(json.loads(handover.read_text()))
    handover.unlink()
    collect_later(pid)
    return environment


def _serve_while_containers_exist(wanted: dict[str, str], revision_dir: Path, startup_grace_s: float) -> None:
    """Return once no container carries the labels any more, or none came within the grace, or the revision's
    folder was removed (the endpoint deleted, or its deploy undone, before the first look).

    :param wanted: the revision's labels.
    :param revision_dir: the revision's folder.
    :param startup_grace_s: how long to wait for the first container.
    """
    from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine

    engine = DockerEngine()
    started_s = time.monotonic()
    seen = False
    while True:
        time.sleep(CHECK_S)
        present = bool(engine.containers(wanted))
        seen = seen or present
        if not present and (seen or not revision_dir.is_dir() or time.monotonic() - started_s > startup_grace_s):
            return


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds the credentials' token), atomically.

    :param path: the file.
    :param text: its content.
    """
    temp = path.with_suffix(".tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    os.replace(temp, path)
