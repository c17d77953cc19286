"""Links to where a job ran: its logs and its machines, as the backend it ran on shows them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_lifecycle.links.base import LifecycleLink, region


def _job_links(operator: Any, values: Mapping[str, Any]) -> Any:
    """Return where the backend the task ran on shows its job (its name from XCom, else the operator's).

    :param operator: the task's operator (a failed task pushed no XCom, but noted its job).
    :param values: XCom values.
    """
    from ml_lifecycle.compute import backend_class
    from ml_lifecycle.compute.base import JobLinks

    job = str(values.get("job_name") or getattr(operator, "current_job_name", None) or "")
    compute = getattr(operator, "compute", None)
    if not job or not isinstance(compute, str):
        return JobLinks()
    return backend_class(compute).job_links(job, getattr(operator, "job_kind", "training"), region())


class InstancesLink(LifecycleLink):
    """The job's EC2 instances in the EC2 console (a local job has none)."""

    name = "Instances"
    keys = ("job_name",)

    def url(self, operator: Any, values: Mapping[str, Any]) -> str:
        """Link to the machines the job ran on, where its backend has any."""
        return str(_job_links(operator, values).instances_url)


class JobLogsLink(LifecycleLink):
    """The job's logs: CloudWatch for EC2 (the log group of its kind), the agent's log file for local jobs."""

    name = "Job logs"
    keys = ("job_name",)

    def url(self, operator: Any, values: Mapping[str, Any]) -> str:
        """Link to the job's log streams or log file."""
        return str(_job_links(operator, values).logs_url)
