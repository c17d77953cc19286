"""Extra links on our operators' task pages: the image, instances, logs, artifacts and endpoint of a task.

The link classes stay importable from here (``ml_lifecycle.links.JobLogsLink``), the paths older serialized
DAGs name them by.
"""

from __future__ import annotations

from ml_lifecycle.links.artifacts import (
    EndpointLink,
    ImageLink,
    ModelVersionLink,
    PredictionsLink,
    TrainingArtifactsLink,
)
from ml_lifecycle.links.base import LifecycleLink
from ml_lifecycle.links.jobs import InstancesLink, JobLogsLink

__all__ = [
    "ALL_LINKS",
    "EndpointLink",
    "ImageLink",
    "InstancesLink",
    "JobLogsLink",
    "LifecycleLink",
    "ModelVersionLink",
    "PredictionsLink",
    "TrainingArtifactsLink",
]

ALL_LINKS = (
    ImageLink,
    InstancesLink,
    JobLogsLink,
    TrainingArtifactsLink,
    ModelVersionLink,
    PredictionsLink,
    EndpointLink,
)
