"""Jobs on a Docker engine, each run by an agent process forked on this host that outlives the Airflow task.

The agent writes the job's record and log; the task follows the log, a retry (on this worker or another one on the
same host) finds the agent by the pid its record names, and the reaper finds leftovers by their labels.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from abc import abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml_lifecycle.compute.base import JobBackend, LogSink
from ml_lifecycle.compute.local.agent_identity import agent_alive, heartbeat_fresh, is_alive
from ml_lifecycle.compute.local.credentials.access import container_aws_access
from ml_lifecycle.compute.local.detached import launch_detached
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.follow import follow, tail
from ml_lifecycle.compute.local.run_cleanup import remove_job
from ml_lifecycle.compute.records import read_record
from ml_lifecycle.core import labels
from ml_lifecycle.core.job_kinds import DEADLINE_MARGIN_S, JobKind
from ml_lifecycle.core.lost_instances import AGENT_LOST_REASON, LOST_GRACE_S, track_gone
from ml_lifecycle.core.status import JobRecord, is_terminal
from ml_lifecycle.core.uris import parse_uri
from ml_lifecycle.registries.pull_login import PullLogins
from ml_lifecycle.secret_sources.values import resolve_secrets
from ml_lifecycle.stores import StoreFor, detached_store_factory

log = logging.getLogger(__name__)

# How long stop() waits for the agent to end the job gracefully (Airflow gives a killed task's cleanup about 60 s).
STOP_WAIT_S = 45.0


class DetachedJobs(JobBackend):
    """A kind of job run by detached agents on this host; a subclass says how to check inputs and run the agent.

    :param kind: the job kind.
    :param compute: the backend's registered name.
    :param aws_conn_id: the Airflow AWS connection.
    :param poll_interval_s: seconds between reads of the record when the agent is not this host's.
    :param store_for: returns the store for a URI (safe to use in a forked agent).
    :param home: ML_LIFECYCLE_HOME; agent logs live in ``logs/jobs/<job>.log`` below it.
    :param work_root: the folder under which jobs lay out /opt/ml.
    :param lost_grace_s: how long a job's agent may be gone, without a final record, before a deferred wait says lost.
    :param logins: where a pull of a missing image gets its login; None pulls anonymously.
    """

    lost_reason = AGENT_LOST_REASON

    def __init__(
        self,
        kind: JobKind,
        compute: str,
        aws_conn_id: str | None,
        poll_interval_s: float,
        store_for: StoreFor,
        home: Path,
        work_root: Path,
        lost_grace_s: float = LOST_GRACE_S,
        logins: PullLogins | None = None,
    ) -> None:
        super().__init__(kind, compute, aws_conn_id, poll_interval_s, lost_grace_s)
        self.logins = logins
        self.store_for = store_for
        self.home = home
        self.work_root = work_root
        self.children: dict[str, int] = {}  # job name -> pid of an agent this process forked (it reaps them)

    @abstractmethod
    def prepare(self, spec: Any, job_name: str, store_for: StoreFor, sink: LogSink) -> Any:
        """Check the job's inputs and image in this process, before the agent starts; return what the agent needs.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param store_for: returns the store for a URI (its AWS connection resolved already).
        :param sink: the task log.
        """

    @abstractmethod
    def run_agent(
        self,
        spec: Any,
        job_name: str,
        owner: Mapping[str, str],
        prepared: Any,
        store_for: StoreFor,
        sink: LogSink,
        secret_environment: Mapping[str, str],
    ) -> int:
        """Run the job to its end in the forked agent (SIGTERM stops it gracefully); return the exit code.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param prepared: what prepare() returned.
        :param store_for: returns the store for a URI, usable without the Airflow task (see launch).
        :param sink: the agent's log.
        :param secret_environment: the values of the job's secrets, for its containers' environment only.
        """

    def log_path(self, job_name: str) -> Path:
        """Return the agent log of a job.

        :param job_name: the job's name.
        """
        return self.home / "logs" / "jobs" / f"{job_name}.log"

    def find(self, spec: Any, job_name: str) -> JobRecord | None:
        """Read the job's record, or None when the job never started.

        :param spec: the job's spec.
        :param job_name: the job's name.
        """
        uri = parse_uri(self.record_uri(spec, job_name))
        return read_record(self.store_for(uri), uri)

    def heartbeat_path(self, job_name: str) -> Path:
        """Return the file a job's agent touches while it runs (beside its log).

        :param job_name: the job's name.
        """
        return self.home / "logs" / "jobs" / f"{job_name}.alive"

    def agent_state(self, job_name: str, record: JobRecord | None) -> bool | None:
        """Say whether the job's agent lives: by its pid where this process can judge it, else by its heartbeat.

        None means this process cannot tell (another host whose ML_LIFECYCLE_HOME it does not share).

        :param job_name: the job's name.
        :param record: its record, or None.
        """
        alive = agent_alive(record, is_alive)
        return alive if alive is not None else heartbeat_fresh(self.heartbeat_path(job_name))

    def is_alive(self, job_name: str, record: JobRecord | None) -> bool:
        """Say whether what runs the job lives: its agent, judged by pid or heartbeat, else its running containers.

        With a record but no way to judge its agent (another host), the job counts as alive: its deadline bounds it.

        :param job_name: the job's name.
        :param record: its record, or None (then a job no sign of which is seen has not started).
        """
        state = self.agent_state(job_name, record)
        if state is not None:
            return state
        if DockerEngine().containers({labels.JOB: job_name}, running_only=True):
            return True
        return record is not None

    def launch(self, spec: Any, job_name: str, owner: Mapping[str, str], sink: LogSink) -> None:
        """Check the inputs here, then start the job in a detached agent.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param owner: the Airflow identity labels.
        :param sink: the task log.
        """
        # The agent cannot ask the Airflow task for the AWS connection: it is resolved here, for the job's locations.
        locations = list(self.kind.locations(spec).values())
        store_for = detached_store_factory(self.aws_conn_id, locations)
        # Read here too, and handed to the forked agent in memory only: never written anywhere.
        secret_environment = resolve_secrets(spec.secrets, self.aws_conn_id)
        uses_s3 = any(location.startswith("s3://") for location in locations)
        access = container_aws_access(spec.role_arn, job_name, self.aws_conn_id, sink, uses_s3=uses_s3)
        prepared = self.prepare(spec, job_name, store_for, sink)
        log_path = self.log_path(job_name)
        log_path.unlink(missing_ok=True)

        def run(out: LogSink) -> int:
            with access.serving() as aws_environment:  # the role's credentials, for as long as the agent runs
                # An endpoint the user set in environment stays theirs.
                told = {k: v for k, v in aws_environment.items() if k not in spec.environment}
                environment = {**secret_environment, **told}
                return self.run_agent(spec, job_name, dict(owner), prepared, store_for, out, environment)

        pid = launch_detached(run, log_path, heartbeat=self.heartbeat_path(job_name))
        self.children[job_name] = pid
        sink(f"Started {self.kind.title.lower()} {job_name} (agent pid {pid})")

    def wait(self, spec: Any, job_name: str, sink: LogSink) -> JobRecord | None:
        """Stream the agent's log until the agent ends and return its record (not final when the deadline passed).

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param sink: the task log.
        """
        deadline_s = time.monotonic() + max(self.deadline_epoch_s(spec, job_name) - time.time(), 0.0)
        pid = self.children.get(job_name)
        record = self.find(spec, job_name)
        if pid is None and record is not None and agent_alive(record, is_alive):
            pid = int(record.agent["pid"])
        if pid is not None:
            own_child = job_name in self.children
            ended = follow(pid, self.log_path(job_name), sink, own_child=own_child, deadline_s=deadline_s)
            if ended:
                self.children.pop(job_name, None)
        else:
            ended = self._poll_record(spec, job_name, sink, deadline_s)
        record = self.find(spec, job_name)
        if record is not None and is_terminal(record.status):
            return record
        if ended:
            raise self.kind.failure(job_name, record, self.lost_reason, "\n".join(self.logs(spec, job_name, 30)))
        return record

    def _poll_record(self, spec: Any, job_name: str, sink: LogSink, deadline_s: float) -> bool:
        """Wait for an agent of another host (or a gone one): read the record and the log file until it is final.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param sink: the task log.
        :param deadline_s: the time.monotonic() after which it gives up.
        :return: whether the job ended (a final record, or nothing has run it for the lost grace period).
        """
        offset = 0
        gone_since_s: float | None = None
        while time.monotonic() < deadline_s:
            offset = tail(self.log_path(job_name), offset, sink)
            record = self.find(spec, job_name)
            if record is not None and is_terminal(record.status):
                return True
            alive = self.is_alive(job_name, record)
            gone_since_s, lost = track_gone(alive, gone_since_s, time.monotonic(), self.lost_grace_s)
            if lost:
                return True
            time.sleep(self.poll_interval_s)
        return False

    def logs(self, spec: Any, job_name: str, tail: int | None = None) -> list[str]:
        """Return the agent log's lines (the last ``tail`` ones, or all); none when it has no log here.

        :param spec: the job's spec.
        :param job_name: the job's name.
        :param tail: how many lines from the end, or None for all.
        """
        path = self.log_path(job_name)
        lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
        return lines if tail is None else lines[-tail:]

    def stop(self, spec: Any, job_name: str) -> None:
        """Ask the job's agent to stop it (SIGTERM; the containers get the stop grace) and wait a while for it.

        :param spec: the job's spec.
        :param job_name: the job's name.
        """
        record = self.find(spec, job_name)
        pid = self.children.get(job_name, 0)
        if not pid and record is not None and agent_alive(record, is_alive):
            pid = int(record.agent["pid"])
        if not pid or not is_alive(pid):
            return
        log.info("Stopping %s %s (agent pid %d)", self.kind.name, job_name, pid)
        os.kill(pid, signal.SIGTERM)
        deadline_s = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline_s and is_alive(pid):
            if job_name in self.children:
                self._reap(job_name)
            time.sleep(0.1)

    def release(self, job_name: str) -> None:
        """Collect the job's agent in the background once it exits, so no zombie is left by a process that does not
        wait for it.

        :param job_name: the job's name.
        """
        pid = self.children.pop(job_name, None)
        if pid is not None:
            threading.Thread(target=_collect, args=(pid,), name=f"collect-{job_name}", daemon=True).start()

    def _reap(self, job_name: str) -> None:
        """Collect an agent this process forked once it exited, so no zombie is left.

        :param job_name: the job's name.
        """
        try:
            done, _ = os.waitpid(self.children[job_name], os.WNOHANG)
        except ChildProcessError:
            done = 1
        if done:
            self.children.pop(job_name, None)

    def clean_up(self, spec: Any, job_name: str) -> None:
        """Remove the job's containers, networks and work folder, unless its agent still ends the job (it removes them).

        :param spec: the job's spec.
        :param job_name: the job's name.
        """
        if self.agent_state(job_name, self.find(spec, job_name)):
            log.info("The agent of %s still ends the job; it removes what the job created", job_name)
            return
        removed = remove_job(DockerEngine(), job_name, self.work_root)
        if removed:
            log.info("Removed %d leftover container(s) of %s", removed, job_name)

    def deadline_epoch_s(self, spec: Any, job_name: str) -> float:
        """Return when waiting gives up: the record's creation plus max_runtime_s, the stop grace and a margin.

        :param spec: the job's spec.
        :param job_name: the job's name.
        """
        record = self.find(spec, job_name)
        created_s = (record.created_epoch_s() if record is not None else None) or time.time()
        return created_s + self.kind.max_runtime_s(spec) + DEADLINE_MARGIN_S


def _collect(pid: int) -> None:
    """Wait for a child process to exit.

    :param pid: its pid.
    """
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
