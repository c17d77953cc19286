"""What the package tells Airflow and its users: provider metadata that validates and lists what exists."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import airflow
import jsonschema
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
    assert _classes(_modules("triggers"), BaseTrigger) == {"JobRecordTrigger"}
    for path in INFO["extra-links"]:
        module, _, name = path.rpartition(".")
        assert issubclass(getattr(importlib.import_module(module), name), BaseOperatorLink), path


def test_every_public_name_imports() -> None:
    for name in ml_lifecycle.__all__:
        assert getattr(ml_lifecycle, name).__name__ == name
