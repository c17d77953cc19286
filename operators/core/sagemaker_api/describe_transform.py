"""DescribeTransformJob's response, from the CreateTransformJob request a job was made with and the job's record.

As for training: the request is echoed, states and times come from the record, nothing unknown is made up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_lifecycle.core.sagemaker_api.describe_job import job_description, run_times
from ml_lifecycle.core.status import JobRecord

ECHOED = (
    "ModelName",
    "MaxConcurrentTransforms",
    "ModelClientConfig",
    "MaxPayloadInMB",
    "BatchStrategy",
    "Environment",
    "TransformInput",
    "TransformOutput",
    "DataCaptureConfig",
    "TransformResources",
    "DataProcessing",
    "ExperimentConfig",
)


def describe_transform_job(
    request: Mapping[str, Any], record: JobRecord | None, created_epoch_s: float, region: str, account: str
) -> dict[str, Any]:
    """Return the DescribeTransformJob response of a job.

    :param request: the CreateTransformJob request it was made with.
    :param record: its record, or None before its agent wrote one.
    :param created_epoch_s: when the API accepted the request.
    :param region: the API's region.
    :param account: the API's account id.
    """
    response = job_description(
        "TransformJob", "transform-job", ECHOED, request, record, created_epoch_s, region, account
    )
    if record is not None:
        response.update(run_times(record, "Transform"))
    return response
