"""The errors ml_lifecycle raises (the hierarchy lives in core/errors.py, beside the pure code that raises most).

Catch them from here: ``from ml_lifecycle.errors import JobFailed``.
"""

from __future__ import annotations

from ml_lifecycle.core.errors import (
    ArchiveError,
    ArtifactExists,
    ArtifactNotFound,
    ComputeError,
    EndpointBusy,
    EndpointNotReady,
    EndpointOwned,
    EngineError,
    GpuUnavailable,
    ImageNotFound,
    JobFailed,
    MlLifecycleError,
    RegistryError,
    SpecError,
    StoreError,
    TransformFailed,
)

__all__ = [
    "ArchiveError",
    "ArtifactExists",
    "ArtifactNotFound",
    "ComputeError",
    "EndpointBusy",
    "EndpointNotReady",
    "EndpointOwned",
    "EngineError",
    "GpuUnavailable",
    "ImageNotFound",
    "JobFailed",
    "MlLifecycleError",
    "RegistryError",
    "SpecError",
    "StoreError",
    "TransformFailed",
]
