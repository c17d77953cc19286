"""DescribeProcessingJob's response, from the CreateProcessingJob request a job was made with and the job's record.

As for training and transform: the request is echoed, states and times come from the record, nothing unknown is
made up (ExitMessage is left out: the container's exit message is not kept in the record).
"""

from __future__ import annotations

from ml_lifecycle.core.sagemaker_api.describe_job import run_job_describer

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


# Its request echoed, its record's start, end and last change as ProcessingStartTime, ProcessingEndTime and
# LastModifiedTime.
describe_processing_job = run_job_describer("ProcessingJob", "processing-job", ECHOED, last_modified=True)
