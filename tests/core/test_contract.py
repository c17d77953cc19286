"""The /opt/ml contract: config files, host names, the training command, failure reasons and mounts."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_lifecycle.core import contract
from ml_lifecycle.core.contract import HostLayout, Mount
from ml_lifecycle.core.specs import Channel

PROPERTY = settings(deadline=None, max_examples=200)


# --- host names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "hosts"),
    [
        pytest.param(1, ["algo-1"], id="one"),
        pytest.param(3, ["algo-1", "algo-2", "algo-3"], id="three"),
        pytest.param(
            11,
            [
                "algo-1",
                "algo-10",
                "algo-11",
                "algo-2",
                "algo-3",
                "algo-4",
                "algo-5",
                "algo-6",
                "algo-7",
                "algo-8",
                "algo-9",
            ],
            id="eleven-sorted-lexicographically",
        ),
    ],
)
def test_host_names(count: int, hosts: list[str]) -> None:
    assert contract.host_names(count) == hosts


@given(st.integers(min_value=1, max_value=100))
@PROPERTY
def test_host_names_are_algo_1_to_n_sorted(count: int) -> None:
    hosts = contract.host_names(count)
    assert hosts == sorted(hosts)
    assert set(hosts) == {f"algo-{i}" for i in range(1, count + 1)}
    assert len(hosts) == count


# --- inputdataconfig.json ------------------------------------------------------------------------------


def test_input_data_config_exact_keys_and_values() -> None:
    channels = {
        "validation": Channel("file:///data/validation", distribution="ShardedByS3Key"),
        "train": Channel("s3://bucket/train/", content_type="text/csv"),
    }
    assert contract.input_data_config(channels) == {
        "train": {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
            "ContentType": "text/csv",
        },
        "validation": {
            "TrainingInputMode": "File",
            "S3DistributionType": "ShardedByS3Key",
            "RecordWrapperType": "None",
        },
    }


@pytest.mark.parametrize(
    ("content_type", "has_key"),
    [
        pytest.param(None, False, id="unset"),
        pytest.param("", False, id="empty"),
        pytest.param("application/x-recordio-protobuf", True, id="set"),
    ],
)
def test_content_type_only_when_set(content_type: str | None, has_key: bool) -> None:
    entry = contract.input_data_config({"train": Channel("s3://b/t", content_type=content_type)})["train"]
    assert ("ContentType" in entry) is has_key
    assert "S3DataDistributionType" not in entry
    if has_key:
        assert entry["ContentType"] == content_type


# --- resourceconfig.json -------------------------------------------------------------------------------


def test_resource_config_exact() -> None:
    assert contract.resource_config(["algo-1", "algo-2"], "algo-2", "ml.c5.xlarge") == {
        "current_host": "algo-2",
        "current_instance_type": "ml.c5.xlarge",
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1", "algo-2"],
        "instance_groups": [
            {
                "instance_group_name": "homogeneousCluster",
                "instance_type": "ml.c5.xlarge",
                "hosts": ["algo-1", "algo-2"],
            }
        ],
        "network_interface_name": "eth0",
    }


# --- hyperparameters.json and config_files -------------------------------------------------------------


def test_hyperparameters_json_all_strings_sorted() -> None:
    text = contract.hyperparameters_json({"lr": "0.1", "epochs": "3"})
    assert text == '{"epochs": "3", "lr": "0.1"}'
    assert contract.hyperparameters_json({}) == "{}"


@given(st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40), max_size=20))
@PROPERTY
def test_hyperparameters_json_round_trips_strings(values: dict[str, str]) -> None:
    parsed = json.loads(contract.hyperparameters_json(values))
    assert parsed == values
    assert all(isinstance(v, str) for v in parsed.values())


def test_config_files_for_each_host() -> None:
    hosts = contract.host_names(12)
    channels = {"train": Channel("s3://b/train", content_type="text/csv")}
    for host in hosts:
        files = contract.config_files({"epochs": "3", "lr": "0.1"}, channels, hosts, host, "ml.m5.large")
        assert set(files) == {"hyperparameters.json", "inputdataconfig.json", "resourceconfig.json"}
        assert json.loads(files["hyperparameters.json"]) == {"epochs": "3", "lr": "0.1"}
        assert json.loads(files["inputdataconfig.json"]) == {
            "train": {
                "TrainingInputMode": "File",
                "S3DistributionType": "FullyReplicated",
                "RecordWrapperType": "None",
                "ContentType": "text/csv",
            }
        }
        resource = json.loads(files["resourceconfig.json"])
        assert resource["current_host"] == host
        assert resource["hosts"] == sorted(resource["hosts"]) == hosts
        assert resource["instance_groups"][0]["hosts"] == hosts
        assert resource["current_instance_type"] == "ml.m5.large"
        assert resource["current_group_name"] == "homogeneousCluster"
        assert resource["network_interface_name"] == "eth0"


# --- the training command ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entrypoint", "arguments", "expected"),
    [
        pytest.param((), (), (None, ["train"]), id="neither-runs-train"),
        pytest.param(
            ("python3", "/opt/program/train.py"),
            (),
            (["python3", "/opt/program/train.py"], []),
            id="entrypoint-only-no-train",
        ),
        pytest.param((), ("--epochs", "3"), (None, ["--epochs", "3"]), id="arguments-replace-train"),
        pytest.param(("/bin/sh", "-c"), ("echo hi",), (["/bin/sh", "-c"], ["echo hi"]), id="both"),
        pytest.param(["python3"], ["x.py"], (["python3"], ["x.py"]), id="lists-accepted"),
    ],
)
def test_training_command(
    entrypoint: tuple[str, ...], arguments: tuple[str, ...], expected: tuple[list[str] | None, list[str]]
) -> None:
    assert contract.training_command(entrypoint, arguments) == expected


# --- failure reason ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("x" * 2000, "x" * 1024, id="cut-to-1024"),
        pytest.param("y" * 1024, "y" * 1024, id="exactly-1024"),
        pytest.param("loss diverged", "loss diverged", id="short"),
        pytest.param("  \nExecuteUserScriptError\n\n", "ExecuteUserScriptError", id="whitespace-stripped"),
        pytest.param("", "", id="empty"),
    ],
)
def test_failure_reason(text: str, expected: str) -> None:
    assert contract.failure_reason(text) == expected


@given(st.text(max_size=3000))
@PROPERTY
def test_failure_reason_is_a_prefix_of_at_most_1024_chars(text: str) -> None:
    reason = contract.failure_reason(text)
    assert len(reason) <= 1024
    assert text.strip().startswith(reason)


def test_contract_constants() -> None:
    assert contract.FAILURE_FILE == "/opt/ml/output/failure"
    assert contract.FAILURE_REASON_MAX_CHARS == 1024
    assert contract.SERVING_PORT == 8080
    assert (contract.PING_PATH, contract.INVOCATIONS_PATH) == ("/ping", "/invocations")
    assert contract.EXECUTION_PARAMETERS_PATH == "/execution-parameters"
    assert contract.PING_TIMEOUT_S == 2.0
    assert contract.STOP_GRACE_TRAINING_S == 120
    assert (contract.MODEL_ARCHIVE, contract.OUTPUT_ARCHIVE) == ("model.tar.gz", "output.tar.gz")


# --- host layout ---------------------------------------------------------------------------------------


def test_host_layout_paths() -> None:
    layout = HostLayout("/work/job/algo-1")
    assert layout.config_dir == "/work/job/algo-1/input/config"
    assert layout.model_dir == "/work/job/algo-1/model"
    assert layout.output_dir == "/work/job/algo-1/output"
    assert layout.output_data_dir == "/work/job/algo-1/output/data"
    assert layout.failure_file == "/work/job/algo-1/output/failure"
    assert layout.checkpoint_dir == "/work/job/algo-1/checkpoints"
    assert layout.staged_channel_dir("train") == "/work/job/algo-1/input/data/train"


def test_host_layout_mounts() -> None:
    layout = HostLayout("/w/algo-1")
    mounts = layout.mounts({"validation": "/data/v", "train": "/data/t"})
    assert mounts == [
        Mount("/w/algo-1/input/config", "/opt/ml/input/config", read_only=True),
        Mount("/w/algo-1/model", "/opt/ml/model", read_only=False),
        Mount("/w/algo-1/output", "/opt/ml/output", read_only=False),
        Mount("/w/algo-1/checkpoints", "/opt/ml/checkpoints", read_only=False),
        Mount("/data/t", "/opt/ml/input/data/train", read_only=True),
        Mount("/data/v", "/opt/ml/input/data/validation", read_only=True),
    ]


def test_host_layout_mount_targets_are_distinct_and_under_opt_ml() -> None:
    targets = [m.target for m in HostLayout("/w").mounts({"a": "/a", "b": "/b", "c": "/c"})]
    assert len(targets) == len(set(targets))
    assert all(t.startswith("/opt/ml/") for t in targets)
    assert {"/opt/ml/input/data/a", "/opt/ml/input/data/b", "/opt/ml/input/data/c"} <= set(targets)


# --- training environment ------------------------------------------------------------------------------


def test_training_environment() -> None:
    user = {"TRAINING_JOB_NAME": "spoof", "AWS_REGION": "spoof", "FOO": "bar"}
    env = contract.training_environment("job-1", "eu-west-1", user)
    assert env == {
        "TRAINING_JOB_NAME": "job-1",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "FOO": "bar",
    }
    assert user == {"TRAINING_JOB_NAME": "spoof", "AWS_REGION": "spoof", "FOO": "bar"}


def test_training_environment_keeps_user_default_region() -> None:
    env = contract.training_environment("job-1", "eu-west-1", {"AWS_DEFAULT_REGION": "us-east-2"})
    assert env["AWS_DEFAULT_REGION"] == "us-east-2"
    assert env["AWS_REGION"] == "eu-west-1"
