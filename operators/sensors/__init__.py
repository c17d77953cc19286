"""Sensors: an endpoint in service, a training job by name, an image in a registry (each loads on first use)."""

from __future__ import annotations

import importlib
from typing import Any

_SENSORS = {
    "EndpointInServiceSensor": "ml_lifecycle.sensors.endpoint_in_service",
    "ImageInRegistrySensor": "ml_lifecycle.sensors.image_in_registry",
    "TrainingJobSensor": "ml_lifecycle.sensors.training_job",
}

__all__ = sorted(_SENSORS)


def __getattr__(name: str) -> Any:
    """Import a sensor on first use (``ml_lifecycle.sensors.ImageInRegistrySensor`` stays a valid class path).

    :param name: the attribute asked for.
    """
    module = _SENSORS.get(name)
    if module is None:
        raise AttributeError(f"module 'ml_lifecycle.sensors' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
