"""What the package tells Airflow and its users: provider metadata that validates and lists what exists."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import airflow
import jsonschema
import pytest
from airflow.sdk import BaseOperator, BaseOperatorLink
from airflow.sdk.bases.sensor import BaseSensorOperator
from airflow.triggers.base import BaseTrigger

import ml_lifecycle
from ml_lifecycle.provider_info import get_provider_info

INFO = get_provider_info()


def _modules(section: str) -> list[str]:
    """Return the python modules a section of the provider info lists.

    :param section: ``operators``, ``sensors`` or ``triggers``.
    """
    return [module for entry in INFO[section] for module in entry["python-modules"]]


def _classes(modules: list[str], base: type) -> set[str]:
    """Return the classes of a kind defined in modules.

    :param modules: module paths.
    :param base: the base class.
    """
    found = set()
    for name in modules:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, base) and value.__module__ == name:
                found.add(value.__name__)
    return found


def test_the_provider_info_validates_against_airflows_schema() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(INFO, schema)


def test_every_public_operator_and_sensor_is_in_a_listed_module() -> None:
    public = {name for name in ml_lifecycle.__all__ if name.endswith(("Operator", "Sensor"))}
    listed = _classes(_modules("operators"), BaseOperator) | _classes(_modules("sensors"), BaseSensorOperator)
    assert public <= listed, public - listed
    assert "ReapOrphansOperator" in public


def test_the_listed_triggers_and_links_exist() -> None:
    assert _classes(_modules("triggers"), BaseTrigger) == {"JobRecordTrigger", "TuningTrialsTrigger"}
    for path in INFO["extra-links"]:
        module, _, name = path.rpartition(".")
        assert issubclass(getattr(importlib.import_module(module), name), BaseOperatorLink), path


def test_every_public_name_imports() -> None:
    for name in ml_lifecycle.__all__:
        assert getattr(ml_lifecycle, name).__name__ == name


@pytest.mark.parametrize(
    "path",
    [
        "ml_lifecycle.train_on_ec2.TrainOnEC2Operator",
        "ml_lifecycle.batch_transform.BatchTransformOperator",
        "ml_lifecycle.deploy_endpoint.DeployEndpointOperator",
        "ml_lifecycle.endpoint_sensor.EndpointInServiceSensor",
        "ml_lifecycle.training_job_sensor.TrainingJobSensor",
        "ml_lifecycle.sensors.ImageInRegistrySensor",
        "ml_lifecycle.triggers.job_record.JobRecordTrigger",
        "ml_lifecycle.links.JobLogsLink",
        "ml_lifecycle.plugin.MlLifecyclePlugin",
    ],
)
def test_class_paths_that_serialized_dags_and_deferred_tasks_name_still_import(path: str) -> None:
    module, _, name = path.rpartition(".")
    assert inspect.isclass(getattr(importlib.import_module(module), name))


def test_a_trigger_serialized_by_the_version_before_the_backend_registry_still_watches_ec2() -> None:
    from ml_lifecycle.triggers.job_record import JobRecordTrigger

    old = {  # JobRecordTrigger.serialize() of c3be8c9, as a deferred task stored it
        "record_uri": "s3://b/training/job/status.json",
        "job_name": "job",
        "aws_conn_id": "aws_default",
        "poll_interval_s": 5.0,
        "deadline_epoch_s": 1.0,
        "wake_on_secondary": ["Interrupted"],
        "wake_after_epoch_s": 0.0,
        "watch_instances": True,
        "lost_grace_s": 30.0,
    }
    rebuilt = JobRecordTrigger(**old)
    assert (rebuilt.compute, rebuilt.kind) == ("ec2", "training")
    assert JobRecordTrigger(**rebuilt.serialize()[1]).serialize() == rebuilt.serialize()
