"""DescribeTransformJob's response, from the CreateTransformJob request a job was made with and the job's record.

As for training: the request is echoed, states and times come from the record, nothing unknown is made up.
"""

from __future__ import annotations

from ml_lifecycle.core.sagemaker_api.describe_job import run_job_describer

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


# Its request echoed, its record's start and end as TransformStartTime and TransformEndTime.
describe_transform_job = run_job_describer("TransformJob", "transform-job", ECHOED)
