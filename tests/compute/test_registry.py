"""The compute registry: names to backends, imported only when used, and the only place names are compared."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from ml_lifecycle import compute
from ml_lifecycle.compute.base import Backend
from ml_lifecycle.errors import SpecError


@pytest.mark.parametrize("name", ["local", "ec2"])
def test_every_registered_name_gives_a_backend_class_of_that_name(name: str) -> None:
    cls = compute.backend_class(name)
    assert issubclass(cls, Backend)
    assert cls.name == name
    assert compute.check_compute(name) == name


@pytest.mark.parametrize("value", ["k8s", "LOCAL", "", None, 1])
def test_other_names_are_refused_naming_the_choices(value: Any) -> None:
    with pytest.raises(SpecError, match=r"^compute: .*Write compute='local' or 'ec2'") as info:
        compute.check_compute(value)
    assert info.value.parameter == "compute"


def test_the_registry_imports_no_backend_until_one_is_asked_for() -> None:
    code = (
        "import sys, ml_lifecycle.compute as c; c.check_compute('ec2'); "
        "print(sorted(m for m in sys.modules if m.startswith(('ml_lifecycle.compute.', 'boto3', 'docker'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_backend_for_hands_the_options_to_the_backend() -> None:
    backend = compute.backend_for("local", "my_conn", {"poll_interval_s": 0.5})
    assert (backend.aws_conn_id, backend.options["poll_interval_s"]) == ("my_conn", 0.5)
