"""What every Describe<Kind>Job response starts with: its name, ARN, status, creation time, the request's echoed
fields and the failure reason, from the request the job was made with and its record."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ml_lifecycle.core.sagemaker_api.arns import resource_arn
from ml_lifecycle.core.status import JobRecord, JobStatus, is_terminal


def job_description(
    noun: str,
    arn_type: str,
    echoed: tuple[str, ...],
    request: Mapping[str, Any],
    record: JobRecord | None,
    created_epoch_s: float,
    region: str,
    account: str,
) -> dict[str, Any]:
    """Return the fields every kind of job's description has (InProgress before its agent wrote a record).

    :param noun: the operations' noun (``TrainingJob``, ``TransformJob``).
    :param arn_type: the job's type in ARNs (``training-job``).
    :param echoed: the request fields the description repeats as they were sent.
    :param request: the Create request the job was made with.
    :param record: its record, or None.
    :param created_epoch_s: when the API accepted the request.
    :param region: the API's region.
    :param account: the API's account id.
    """
    name = str(request[f"{noun}Name"])
    response: dict[str, Any] = {
        f"{noun}Name": name,
        f"{noun}Arn": resource_arn(arn_type, name, region, account),
        f"{noun}Status": str(record.status) if record else JobStatus.IN_PROGRESS.value,
        "CreationTime": created_epoch_s,
        **{field: request[field] for field in echoed if field in request},
    }
    if record is not None and record.failure_reason:
        response["FailureReason"] = record.failure_reason
    return response


# describe(request, record, created_epoch_s, region, account) -> the Describe response
Describe = Callable[[Mapping[str, Any], JobRecord | None, float, str, str], dict[str, Any]]


def run_job_describer(
    noun: str, arn_type: str, echoed: tuple[str, ...], *, last_modified: bool = False, exit_message: bool = False
) -> Describe:
    """Return the Describe builder of a kind of job whose description is its shared start and its run's times
    (``<Run>StartTime``/``<Run>EndTime``; transform and processing jobs).

    :param noun: the operations' noun (``TransformJob``).
    :param arn_type: the job's type in ARNs (``transform-job``).
    :param echoed: the request fields the description repeats as they were sent.
    :param last_modified: whether the response has LastModifiedTime (the record's last change).
    :param exit_message: whether the response has ExitMessage (what the containers wrote to /opt/ml/output/message;
        once the job ended, as SageMaker gives it).
    """

    def describe(
        request: Mapping[str, Any], record: JobRecord | None, created_epoch_s: float, region: str, account: str
    ) -> dict[str, Any]:
        response = job_description(noun, arn_type, echoed, request, record, created_epoch_s, region, account)
        if record is None:
            return response
        response.update(run_times(record, noun.removesuffix("Job")))
        if last_modified and record.updated_at:
            response["LastModifiedTime"] = epoch_s(record.updated_at)
        if exit_message and record.exit_message and is_terminal(record.status):
            response["ExitMessage"] = record.exit_message
        return response

    return describe


def run_times(record: JobRecord, noun: str) -> dict[str, float]:
    """Return a job's ``<noun>StartTime`` and ``<noun>EndTime`` as its record knows them (its start is when its agent
    created the record).

    :param record: the job's record.
    :param noun: the fields' prefix (``Transform``, ``Processing``).
    """
    times = {f"{noun}StartTime": epoch_s(record.created_at), f"{noun}EndTime": epoch_s(record.ended_at)}
    return {field: value for field, value in times.items() if value is not None}


def epoch_s(iso: str | None) -> float | None:
    """Return an ISO-8601 UTC time in epoch seconds, or None.

    :param iso: e.g. ``2026-12-07T12:00:00Z``.
    """
    if not iso:
        return None
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
