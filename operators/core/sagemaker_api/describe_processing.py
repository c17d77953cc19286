"""DescribeProcessingJob's response, from the CreateProcessingJob request a job was made with and the job's record.

As for training and transform: the request is echoed, states and times come from the record, nothing unknown is
made up; ExitMessage is what the containers wrote to /opt/ml/output/message, as the record keeps it.
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
# LastModifiedTime, and its containers' exit message.
describe_processing_job = run_job_describer(
    "ProcessingJob", "processing-job", ECHOED, last_modified=True, exit_message=True
)
