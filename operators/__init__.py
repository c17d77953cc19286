"""airflow-ml-lifecycle: the SageMaker container lifecycle from Apache Airflow 3 on infrastructure you own.

The operators load lazily, so ``from ml_lifecycle import TrainOnEC2Operator`` in a DAG file costs little.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "BuildImageOperator": "ml_lifecycle.build_image",
    "PushToECROperator": "ml_lifecycle.push_to_ecr",
    "TrainOnEC2Operator": "ml_lifecycle.train_on_ec2",
    "ExportArtifactsOperator": "ml_lifecycle.export_artifacts",
    "BatchTransformOperator": "ml_lifecycle.batch_transform",
    "DeployEndpointOperator": "ml_lifecycle.deploy_endpoint",
    "DeleteEndpointOperator": "ml_lifecycle.deploy_endpoint",
    "EndpointInServiceSensor": "ml_lifecycle.endpoint_sensor",
    "TeardownOperator": "ml_lifecycle.teardown",
    "TrainingJobSensor": "ml_lifecycle.training_job_sensor",
    "ImageInRegistrySensor": "ml_lifecycle.sensors",
    "Channel": "ml_lifecycle.core.specs",
    "TrainingSpec": "ml_lifecycle.core.specs",
    "TransformSpec": "ml_lifecycle.core.specs",
    "EndpointSpec": "ml_lifecycle.core.specs",
}

__all__ = [
    "BatchTransformOperator",
    "BuildImageOperator",
    "Channel",
    "DeleteEndpointOperator",
    "DeployEndpointOperator",
    "EndpointInServiceSensor",
    "EndpointSpec",
    "ExportArtifactsOperator",
    "ImageInRegistrySensor",
    "PushToECROperator",
    "TeardownOperator",
    "TrainOnEC2Operator",
    "TrainingJobSensor",
    "TrainingSpec",
    "TransformSpec",
]

if TYPE_CHECKING:
    from ml_lifecycle.batch_transform import BatchTransformOperator
    from ml_lifecycle.build_image import BuildImageOperator
    from ml_lifecycle.core.specs import Channel, EndpointSpec, TrainingSpec, TransformSpec
    from ml_lifecycle.deploy_endpoint import DeleteEndpointOperator, DeployEndpointOperator
    from ml_lifecycle.endpoint_sensor import EndpointInServiceSensor
    from ml_lifecycle.export_artifacts import ExportArtifactsOperator
    from ml_lifecycle.push_to_ecr import PushToECROperator
    from ml_lifecycle.sensors import ImageInRegistrySensor
    from ml_lifecycle.teardown import TeardownOperator
    from ml_lifecycle.train_on_ec2 import TrainOnEC2Operator
    from ml_lifecycle.training_job_sensor import TrainingJobSensor


def __getattr__(name: str) -> Any:
    """Import a public name on first use.

    :param name: the attribute asked for.
    """
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ml_lifecycle' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
