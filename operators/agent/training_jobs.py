"""Training jobs on the local engine as the operator sees them: start detached, find, follow, stop."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from ml_lifecycle.agent.follow import follow
from ml_lifecycle.agent.launcher import is_alive, launch_detached
from ml_lifecycle.agent.preflight import list_channels, require_image
from ml_lifecycle.agent.records import RECORD_NAME, StoreFor, read_record
from ml_lifecycle.agent.training import TrainingRunner, job_output_uri
from ml_lifecycle.compute import labels
from ml_lifecycle.compute.docker_engine import DockerEngine
from ml_lifecycle.compute.run_cleanup import remove_job
from ml_lifecycle.core.specs import TrainingSpec
from ml_lifecycle.core.status import JobRecord
from ml_lifecycle.errors import JobFailed

log = logging.getLogger(__name__)


class LocalTrainingJobs:
    """Runs each training job in a detached agent process on this host; the Docker engine runs its containers."""

    def __init__(self, store_for: StoreFor, home: Path, work_root: Path, region: str) -> None:
        """Hold where jobs keep their state.

        :param store_for: returns the store for a URI (safe to use in a forked agent).
        :param home: ML_LIFECYCLE_HOME; agent logs live in ``logs/jobs/<job>.log`` below it.
        :param work_root: the folder under which jobs lay out /opt/ml.
        :param region: the AWS region reported to containers.
        """
        self.store_for = store_for
        self.home = home
        self.work_root = work_root
        self.region = region

    def log_path(self, job_name: str) -> Path:
        """Return the agent log of a job.

        :param job_name: the job's name.
        """
        return self.home / "logs" / "jobs" / f"{job_name}.log"

    def record(self, spec: TrainingSpec, job_name: str) -> JobRecord | None:
        """Read a job's record, or None when the job never started.

        :param spec: the job's spec (its output_path locates the record).
        :param job_name: the job's name.
        """
        uri = job_output_uri(spec.output_path, job_name).join(RECORD_NAME)
        return read_record(self.store_for(uri), uri)

    def start(self, spec: TrainingSpec, job_name: str, owner: dict[str, str]) -> int:
        """Check the image and the channels, then start the job in a detached agent and return the agent's pid.

        :param spec: the training spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        """
        engine = DockerEngine()
        image = require_image(engine, spec.image_uri)
        listings = list_channels(dict(spec.channels), self.store_for)
        log_path = self.log_path(job_name)
        log_path.unlink(missing_ok=True)

        def run(sink: Callable[[str], None]) -> int:
            runner = TrainingRunner(DockerEngine(), self.store_for, self.work_root, self.region)
            runner.agent = {"pid": os.getpid(), "host": socket.gethostname()}
            # SIGTERM (on_kill, a stop request) stops the containers gracefully; the runner then records Stopped.
            signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=runner.stop, daemon=True).start())
            try:
                runner.run(spec, job_name, owner, sink, listings, image=image)
            except JobFailed:
                return 1
            return 0

        return launch_detached(run, log_path)

    def follow(self, job_name: str, pid: int, sink: Callable[[str], None], *, own_child: bool) -> None:
        """Stream a job's log into sink until its agent ends.

        :param job_name: the job's name.
        :param pid: the agent's pid.
        :param sink: the task log.
        :param own_child: whether this process started the agent.
        """
        follow(pid, self.log_path(job_name), sink, own_child=own_child)

    def log_tail(self, job_name: str, lines: int) -> list[str]:
        """Return the last lines of a job's agent log (empty when it has none).

        :param job_name: the job's name.
        :param lines: how many lines.
        """
        path = self.log_path(job_name)
        return path.read_text(errors="replace").splitlines()[-lines:] if path.is_file() else []

    def is_running(self, record: JobRecord) -> bool:
        """Say whether an InProgress job still has a live agent on this host, or live containers on the engine.

        :param record: the job's record.
        """
        agent = record.agent or {}
        if agent.get("host") == socket.gethostname() and agent.get("pid"):
            return is_alive(int(agent["pid"]))
        return bool(DockerEngine().containers({labels.JOB: record.job_name}, running_only=True))

    def stop(self, record: JobRecord) -> None:
        """Ask a job's agent to stop the job (SIGTERM, then SIGKILL 120 s later, artifacts kept).

        :param record: the job's record.
        """
        pid = int((record.agent or {}).get("pid") or 0)
        if pid and (record.agent or {}).get("host") == socket.gethostname() and is_alive(pid):
            os.kill(pid, signal.SIGTERM)

    def abandon(self, job_name: str) -> None:
        """Remove what a job whose agent died left behind.

        :param job_name: the job's name.
        """
        removed = remove_job(DockerEngine(), job_name, self.work_root)
        log.info("Abandoned job %s: removed %d leftover container(s)", job_name, removed)
