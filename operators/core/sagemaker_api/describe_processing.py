"""DescribeProcessingJob's response, from the CreateProcessingJob request a job was made with and the job's record.

As for training and transform: the request is echoed, states and times come from the record, nothing unknown is
made up (ExitMessage is left out: the container's exit message is not kept in the record).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_lifecycle.core.sagemaker_api.describe_job import epoch_s, job_description, run_times
from ml_lifecycle.core.status import JobRecord

ECHOED = (
    "ProcessingInputs",
    "ProcessingOutputConfig",
    "ProcessingResources",
    "StoppingCondition",
    "AppSpecification",
    "Environment",
    "NetworkConfig",
    "RoleArn",
    "ExperimentConfig",
)


def describe_processing_job(
    request: Mapping[str, Any], record: JobRecord | None, created_epoch_s: float, region: str, account: str
) -> dict[str, Any]:
    """Return the DescribeProcessingJob response of a job.

    :param request: the CreateProcessingJob request it was made with.
    :param record: its record, or None before its agent wrote one.
    :param created_epoch_s: when the API accepted the request.
    :param region: the API's region.
    :param account: the API's account id.
    """
    response = job_description(
        "ProcessingJob", "processing-job", ECHOED, request, record, created_epoch_s, region, account
    )
    if record is None:
        return response
    response.update(run_times(record, "Processing"))
    if record.updated_at:
        response["LastModifiedTime"] = epoch_s(record.updated_at)
    return response
