"""airflow-ml-lifecycle: the SageMaker container lifecycle from Apache Airflow 3 on infrastructure you own.

The operators load lazily, so ``from ml_lifecycle import TrainOnEC2Operator`` in a DAG file costs little.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "BuildImageOperator": "ml_lifecycle.build_image",
    "PushToECROperator": "ml_lifecycle.push_to_ecr",
    "TrainOnEC2Operator": "ml_lifecycle.train_on_ec2",
    "ProcessOnEC2Operator": "ml_lifecycle.process_on_ec2",
    "TuneOnEC2Operator": "ml_lifecycle.tune_on_ec2",
    "ExportArtifactsOperator": "ml_lifecycle.export_artifacts",
    "BatchTransformOperator": "ml_lifecycle.batch_transform",
    "DeployEndpointOperator": "ml_lifecycle.deploy_endpoint",
    "DeleteEndpointOperator": "ml_lifecycle.deploy_endpoint",
    "EndpointInServiceSensor": "ml_lifecycle.sensors.endpoint_in_service",
    "TeardownOperator": "ml_lifecycle.teardown",
    "ReapOrphansOperator": "ml_lifecycle.reaper",
    "TrainingJobSensor": "ml_lifecycle.sensors.training_job",
    "ImageInRegistrySensor": "ml_lifecycle.sensors.image_in_registry",
    "Channel": "ml_lifecycle.core.specs",
    "TrainingSpec": "ml_lifecycle.core.specs",
    "TransformSpec": "ml_lifecycle.core.specs",
    "EndpointSpec": "ml_lifecycle.core.specs",
    "ProcessingInput": "ml_lifecycle.core.processing_spec",
    "ProcessingOutput": "ml_lifecycle.core.processing_spec",
    "ProcessingSpec": "ml_lifecycle.core.processing_spec",
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
    "ProcessOnEC2Operator",
    "ProcessingInput",
    "ProcessingOutput",
    "ProcessingSpec",
    "PushToECROperator",
    "ReapOrphansOperator",
    "TeardownOperator",
    "TrainOnEC2Operator",
    "TrainingJobSensor",
    "TrainingSpec",
    "TransformSpec",
    "TuneOnEC2Operator",
]

if TYPE_CHECKING:
    from ml_lifecycle.batch_transform import BatchTransformOperator
    from ml_lifecycle.build_image import BuildImageOperator
    from ml_lifecycle.core.processing_spec import ProcessingInput, ProcessingOutput, ProcessingSpec
    from ml_lifecycle.core.specs import Channel, EndpointSpec, TrainingSpec, TransformSpec
    from ml_lifecycle.deploy_endpoint import DeleteEndpointOperator, DeployEndpointOperator
    from ml_lifecycle.export_artifacts import ExportArtifactsOperator
    from ml_lifecycle.process_on_ec2 import ProcessOnEC2Operator
    from ml_lifecycle.push_to_ecr import PushToECROperator
    from ml_lifecycle.reaper import ReapOrphansOperator
    from ml_lifecycle.sensors.endpoint_in_service import EndpointInServiceSensor
    from ml_lifecycle.sensors.image_in_registry import ImageInRegistrySensor
    from ml_lifecycle.sensors.training_job import TrainingJobSensor
    from ml_lifecycle.teardown import TeardownOperator
    from ml_lifecycle.train_on_ec2 import TrainOnEC2Operator
    from ml_lifecycle.tune_on_ec2 import TuneOnEC2Operator


# Modules that moved; their old paths stay importable, because serialized DAGs name operator classes by them.
_MOVED_MODULES = {
    "ml_lifecycle.endpoint_sensor": "ml_lifecycle.sensors.endpoint_in_service",
    "ml_lifecycle.training_job_sensor": "ml_lifecycle.sensors.training_job",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolve an old module path to the module that now holds its code (the same module object)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        """Claim the old paths only.

        :param fullname: the module being imported.
        :param path: the parent package's path (unused).
        :param target: the module being reloaded (unused).
        """
        if fullname not in _MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: Any) -> ModuleType:
        """Return the module at its new path, imported now.

        :param spec: the old path's spec.
        """
        return importlib.import_module(_MOVED_MODULES[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        """Run nothing (the module ran at its new path); give it back the spec of its new path, which import replaced.

        :param module: the module.
        """
        module.__spec__ = importlib.util.find_spec(module.__name__)


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())


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
