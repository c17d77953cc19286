"""A processing container's /opt/ml/config: processingjobconfig.json and resourceconfig.json, as SageMaker writes them.

SageMaker writes the job's request (with its name and ARN) to processingjobconfig.json, and the same
resourceconfig.json as for training (one homogeneous group).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ml_lifecycle.core.contract import resource_config
from ml_lifecycle.core.processing_spec import ProcessingSpec

CONFIG_DIR = "/opt/ml/config"
JOB_CONFIG_NAME = "processingjobconfig.json"
RESOURCE_CONFIG_NAME = "resourceconfig.json"
# We run in no AWS account; the ARN keeps SageMaker's shape with this account, as moto's default account.
ACCOUNT_ID = "000000000000"


def processing_job_arn(job_name: str, region: str) -> str:
    """Return the job's ARN in SageMaker's form (SageMaker lower-cases the name in ARNs).

    :param job_name: the job's name.
    :param region: the AWS region reported to the container.
    """
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:processing-job/{job_name.lower()}"


def processing_job_config(spec: ProcessingSpec, job_name: str, region: str) -> dict[str, Any]:
    """Return processingjobconfig.json's content: the job's request, field for field as SageMaker names them.

    :param spec: the processing spec.
    :param job_name: the job's name.
    :param region: the AWS region reported to the container.
    """
    app: dict[str, Any] = {"ImageUri": spec.image_uri}
    if spec.entrypoint:
        app["ContainerEntrypoint"] = list(spec.entrypoint)
    if spec.arguments:
        app["ContainerArguments"] = list(spec.arguments)
    return {
        "ProcessingJobArn": processing_job_arn(job_name, region),
        "ProcessingJobName": job_name,
        "AppSpecification": app,
        "Environment": dict(spec.environment),
        "NetworkConfig": {
            "EnableInterContainerTrafficEncryption": False,
            "EnableNetworkIsolation": spec.enable_network_isolation,
        },
        "ProcessingInputs": [
            {
                "InputName": item.name,
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": item.source,
                    "LocalPath": item.local_path,
                    "S3DataType": item.data_type,
                    "S3InputMode": item.input_mode,
                    "S3DataDistributionType": item.distribution,
                    "S3CompressionType": item.compression,
                },
            }
            for item in spec.inputs
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": item.name,
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": item.destination,
                        "LocalPath": item.local_path,
                        "S3UploadMode": item.upload_mode,
                    },
                }
                for item in spec.outputs
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": spec.instance_count,
                "InstanceType": spec.instance_type,
                "VolumeSizeInGB": spec.volume_size_gb,
            }
        },
        "RoleArn": spec.role_arn or "",
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_runtime_s},
    }


def processing_config_files(
    spec: ProcessingSpec, job_name: str, region: str, hosts: Sequence[str], current_host: str
) -> dict[str, str]:
    """Return file name -> content for one host's /opt/ml/config.

    :param spec: the processing spec.
    :param job_name: the job's name.
    :param region: the AWS region reported to the container.
    :param hosts: every host of the job, sorted.
    :param current_host: the host these files are for.
    """
    return {
        JOB_CONFIG_NAME: json.dumps(processing_job_config(spec, job_name, region), sort_keys=True),
        RESOURCE_CONFIG_NAME: json.dumps(resource_config(hosts, current_host, spec.instance_type), sort_keys=True),
    }
