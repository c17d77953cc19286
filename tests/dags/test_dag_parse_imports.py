"""Parsing the DAGs loads only what the operators' parse-time checks need; the rest loads when a task runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ml_lifecycle.errors import SpecError

REPO_ROOT = Path(__file__).resolve().parents[2]

# Modules only a running task needs: the specs, EC2 launch settings, the endpoint proxy, stores, console URLs.
EXECUTE_TIME_MODULES = (
    "ml_lifecycle.core.specs",
    "ml_lifecycle.core.contract",
    "ml_lifecycle.core.ec2.settings",
    "ml_lifecycle.core.ec2.launch",
    "ml_lifecycle.core.ec2.traffic_shift",
    "ml_lifecycle.compute.local.endpoints.proxy_config",
    "ml_lifecycle.stores",
    "ml_lifecycle.links.console_urls",
    "ml_lifecycle.backends",
    "boto3",
    "docker",
)


def _modules_loaded_by(dag_file: str) -> set[str]:
    """Import a DAG file in a fresh python and return the modules it loaded.

    :param dag_file: the DAG file, relative to the repository root.
    """
    script = "import json, runpy, sys; runpy.run_path(sys.argv[1]); print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script, dag_file], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_parsing_retrain_and_deploy_loads_no_execute_time_module() -> None:
    loaded = _modules_loaded_by("dags/retrain_and_deploy.py")
    assert sorted(m for m in EXECUTE_TIME_MODULES if m in loaded) == []
    assert not [m for m in loaded if m.startswith(("ml_lifecycle.compute.", "ml_lifecycle.agent."))]


def test_the_deploy_default_payload_limit_is_the_proxys() -> None:
    import inspect

    from ml_lifecycle import DeployEndpointOperator
    from ml_lifecycle.compute.local.endpoints import proxy_config
    from ml_lifecycle.deploy_endpoint import DEFAULT_MAX_PAYLOAD_MB

    default = inspect.signature(DeployEndpointOperator.__init__).parameters["max_payload_mb"].default
    assert default == DEFAULT_MAX_PAYLOAD_MB == proxy_config.DEFAULT_MAX_PAYLOAD_MB
    assert proxy_config.check_max_payload_mb(DEFAULT_MAX_PAYLOAD_MB) == DEFAULT_MAX_PAYLOAD_MB


@pytest.mark.parametrize("value", [1, 6, 100, "7", 6.0, 0, 101, -6, True, "six", None])
def test_the_parse_time_payload_check_agrees_with_the_proxys(value: Any) -> None:
    from ml_lifecycle.compute.local.endpoints.proxy_config import check_max_payload_mb
    from ml_lifecycle.deploy_endpoint import _check_max_payload_mb

    try:
        expected: Any = check_max_payload_mb(value)
    except SpecError as err:
        expected = str(err)
    try:
        got: Any = _check_max_payload_mb(value)
    except SpecError as err:
        got = str(err)
    assert got == expected


def test_moved_checks_are_the_same_functions_where_they_were() -> None:
    from ml_lifecycle.core import checks, specs
    from ml_lifecycle.core.ec2 import launch as ec2_launch
    from ml_lifecycle.core.ec2 import traffic_shift

    assert ec2_launch.ec2_instance_type is checks.ec2_instance_type
    assert traffic_shift.check_error_rate is checks.check_error_rate
    assert (specs.DEFAULT_INSTANCE_TYPE, specs.DEFAULT_MAX_RUNTIME_S, specs.SUPPORTED_SPLIT_TYPES) == (
        "ml.m5.large",
        24 * 3600,
        ("None", "Line", "RecordIO", "TFRecord"),
    )


@pytest.mark.parametrize(
    ("build", "parameter"),
    [
        pytest.param(
            lambda: _train(channels={"train": "not-a-uri"}),
            "channels",
            id="train-literal-channel",
        ),
        pytest.param(lambda: _train(ec2_settings={"volume_type": "st1"}), "Ec2Settings.volume_type", id="train-ec2"),
        pytest.param(lambda: _transform(instance_type="huge"), "instance_type", id="transform-instance-type"),
        pytest.param(lambda: _transform(ec2_settings={"nope": 1}), "ec2_settings", id="transform-ec2"),
        pytest.param(lambda: _deploy(traffic_shift={"type": "sideways"}), "traffic_shift", id="deploy-shift"),
        pytest.param(lambda: _deploy(max_error_rate=2), "max_error_rate", id="deploy-error-rate"),
        pytest.param(lambda: _deploy(instance_type="m5"), "instance_type", id="deploy-instance-type"),
        pytest.param(lambda: _deploy(max_payload_mb=101), "max_payload_mb", id="deploy-payload"),
        pytest.param(
            lambda: _export(quality_gate={"metric": "rmse", "goal": "sideways"}), "quality_gate", id="export-gate"
        ),
    ],
)
def test_checks_that_load_their_module_on_use_still_fail_when_the_dag_is_parsed(build: Any, parameter: str) -> None:
    with pytest.raises(SpecError) as caught:
        build()
    assert parameter in str(caught.value)


def _train(**overrides: Any) -> Any:
    """Build a TrainOnEC2Operator with good literal arguments, overridden.

    :param overrides: the arguments to change.
    """
    from ml_lifecycle import TrainOnEC2Operator

    arguments = {
        "task_id": "train",
        "image_uri": "example/linear:1",
        "channels": {"train": "file:///tmp/train"},
        "output_path": "file:///tmp/out",
    }
    return TrainOnEC2Operator(**{**arguments, **overrides})


def _transform(**overrides: Any) -> Any:
    """Build a BatchTransformOperator with good literal arguments, overridden.

    :param overrides: the arguments to change.
    """
    from ml_lifecycle import BatchTransformOperator

    arguments = {
        "task_id": "transform",
        "image_uri": "example/linear:1",
        "model_uri": "file:///tmp/model.tar.gz",
        "input_uri": "file:///tmp/in",
        "output_uri": "file:///tmp/out",
    }
    return BatchTransformOperator(**{**arguments, **overrides})


def _deploy(**overrides: Any) -> Any:
    """Build a DeployEndpointOperator with good literal arguments, overridden.

    :param overrides: the arguments to change.
    """
    from ml_lifecycle import DeployEndpointOperator

    arguments = {
        "task_id": "deploy",
        "endpoint_name": "linear",
        "image_uri": "example/linear:1",
        "model_uri": "file:///tmp/model.tar.gz",
    }
    return DeployEndpointOperator(**{**arguments, **overrides})


def _export(**overrides: Any) -> Any:
    """Build an ExportArtifactsOperator with good literal arguments, overridden.

    :param overrides: the arguments to change.
    """
    from ml_lifecycle import ExportArtifactsOperator

    arguments = {
        "task_id": "export",
        "model_uri": "file:///tmp/model.tar.gz",
        "model_name": "linear",
        "registry_uri": "file:///tmp/registry",
    }
    return ExportArtifactsOperator(**{**arguments, **overrides})
