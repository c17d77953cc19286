"""The official SageMaker training toolkit (PyPI ``sagemaker-training``, script mode, unchanged) runs on our platform.

The image (examples/containers/toolkit) runs the toolkit's ``train``: it reads the config files we write
under /opt/ml/input/config, turns hyperparameters into ``--name value`` arguments, exports ``SM_*``
variables, waits until every host resolves, and runs /opt/ml/code/train.py. The script saves what it saw as
``seen-<host>.json`` in the model, so these tests check the toolkit's reading of our files end to end.
"""

from __future__ import annotations

import csv
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from support.helpers import task_context

from ml_lifecycle import TrainOnEC2Operator
from ml_lifecycle.errors import JobFailed

pytestmark = pytest.mark.docker

CHANNEL_DIR = "/opt/ml/input/data/train"


def _operator(image: str, data: Path, out: Path, **kwargs: Any) -> TrainOnEC2Operator:
    """Build a training operator on the sample data's train channel; the image's own ``train`` runs.

    :param image: the image.
    :param data: the sample data folder.
    :param out: the output folder.
    :param kwargs: overrides.
    """
    args: dict[str, Any] = {
        "task_id": "train",
        "image_uri": image,
        "channels": {"train": f"file://{data}/train"},
        "output_path": f"file://{out}",
        "hyperparameters": {"epochs": 3, "learning-rate": 0.1},
        "max_runtime_s": 300,
    }
    args.update(kwargs)
    return TrainOnEC2Operator(**args)


def _model_files(result: dict[str, Any]) -> dict[str, bytes]:
    """Read every file of the job's model.tar.gz.

    :param result: what the operator returned.
    """
    with tarfile.open(result["model_uri"].removeprefix("file://")) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _first_column_mean(folder: Path) -> float:
    """The mean of the first CSV column over a folder's files, computed here to check the script's numpy.

    :param folder: the folder.
    """
    values = [float(row[0]) for path in sorted(folder.iterdir()) for row in csv.reader(path.open())]
    return sum(values) / len(values)


def test_script_mode_gets_our_hyperparameters_channels_and_hosts(toolkit_image, sample_data, tmp_path, ml_home):
    hyperparameters = {"epochs": 3, "learning-rate": 0.1, "optimizer": "adam"}
    result = _operator(toolkit_image, sample_data, tmp_path, hyperparameters=hyperparameters).execute(task_context())

    assert result["status"] == "Completed"
    files = _model_files(result)
    assert sorted(files) == ["model-algo-1.json", "seen-algo-1.json"]
    seen = json.loads(files["seen-algo-1.json"])
    env = seen["env"]

    # Hyperparameters: strings in hyperparameters.json, JSON-decoded by the toolkit, then `--name value` (sorted).
    assert seen["argv"] == ["--epochs", "3", "--learning-rate", "0.1", "--optimizer", "adam"]
    assert seen["args"]["epochs"] == 3 and seen["args"]["learning_rate"] == 0.1
    assert seen["unknown_args"] == ["--optimizer", "adam"]
    assert json.loads(env["SM_HPS"]) == {"epochs": 3, "learning-rate": 0.1, "optimizer": "adam"}
    assert env["SM_HP_EPOCHS"] == "3" and env["SM_HP_LEARNING-RATE"] == "0.1" and env["SM_HP_OPTIMIZER"] == "adam"
    assert json.loads(env["SM_USER_ARGS"]) == seen["argv"]

    # Channels and data.
    assert json.loads(env["SM_CHANNELS"]) == ["train"]
    assert env["SM_CHANNEL_TRAIN"] == CHANNEL_DIR == seen["args"]["train"]
    assert seen["train_files"] == sorted(p.name for p in (sample_data / "train").iterdir())
    assert json.loads(env["SM_INPUT_DATA_CONFIG"]) == {
        "train": {"RecordWrapperType": "None", "S3DistributionType": "FullyReplicated", "TrainingInputMode": "File"}
    }
    model = json.loads(files["model-algo-1.json"])
    assert model["target_mean"] == pytest.approx(_first_column_mean(sample_data / "train"), abs=1e-6)
    assert model["epochs"] == 3 and model["learning_rate"] == 0.1

    # Hosts and resources.
    assert env["SM_CURRENT_HOST"] == "algo-1" == env["CURRENT_HOST"]
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"]
    resource = json.loads(env["SM_RESOURCE_CONFIG"])
    assert resource["current_host"] == "algo-1" and resource["hosts"] == ["algo-1"]
    assert env["SM_CURRENT_INSTANCE_GROUP"] == "homogeneousCluster"
    assert json.loads(env["SM_CURRENT_INSTANCE_GROUP_HOSTS"]) == ["algo-1"]
    assert env["SM_IS_HETERO"] == "false"
    assert int(env["SM_NUM_CPUS"]) >= 1 and env["SM_NUM_GPUS"] == "0"

    # Script mode: the toolkit found /opt/ml/code/train.py from SAGEMAKER_PROGRAM and ran it there.
    assert env["SM_USER_ENTRY_POINT"] == "train.py" and env["SM_MODULE_DIR"] == "/opt/ml/code"
    assert seen["cwd"] == "/opt/ml/code"
    assert env["SM_MODEL_DIR"] == "/opt/ml/model" and env["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data"
    training_env = json.loads(env["SM_TRAINING_ENV"])
    assert training_env["job_name"] == result["job_name"] == env["TRAINING_JOB_NAME"]
    assert training_env["channel_input_dirs"] == {"train": CHANNEL_DIR}
    assert training_env["hyperparameters"] == json.loads(env["SM_HPS"])
    assert training_env["current_host"] == "algo-1" and training_env["hosts"] == ["algo-1"]


def test_two_hosts_resolve_each_other_and_each_sees_itself(toolkit_image, sample_data, tmp_path, ml_home):
    # The toolkit blocks on gethostbyname() for every host before it starts the script: both hosts
    # completing shows that our private network satisfies its DNS wait. The script then meets its peer
    # over TCP (by name) before it exits, as distributed frameworks do, so neither host leaves while the
    # other still waits on DNS for it.
    result = _operator(toolkit_image, sample_data, tmp_path, instance_count=2).execute(task_context())

    assert result["status"] == "Completed"
    files = _model_files(result)
    assert sorted(files) == ["model-algo-1.json", "model-algo-2.json", "seen-algo-1.json", "seen-algo-2.json"]
    for host in ("algo-1", "algo-2"):
        seen = json.loads(files[f"seen-{host}.json"])
        env = seen["env"]
        assert env["SM_CURRENT_HOST"] == host
        assert json.loads(env["SM_HOSTS"]) == ["algo-1", "algo-2"]
        assert json.loads(env["SM_RESOURCE_CONFIG"])["current_host"] == host
        assert json.loads(env["SM_TRAINING_ENV"])["master_hostname"] == "algo-1"
        assert json.loads(env["SM_CURRENT_INSTANCE_GROUP_HOSTS"]) == ["algo-1", "algo-2"]
        assert seen["peers_heard"] == [h for h in ("algo-1", "algo-2") if h != host]


def test_a_failing_script_fails_the_job_with_the_toolkits_reason(toolkit_image, sample_data, tmp_path, ml_home):
    op = _operator(toolkit_image, sample_data, tmp_path, hyperparameters={"epochs": 3, "fail": "yes"})
    with pytest.raises(JobFailed) as caught:
        op.execute(task_context())

    failed = caught.value
    assert failed.status == "Failed"
    # The toolkit writes /opt/ml/output/failure itself (trainer.train, errors._CalledProcessError.__str__).
    assert failed.reason.startswith("ExecuteUserScriptError:\nExitCode 1\n"), failed.reason
    assert "train.py --epochs 3 --fail yes" in failed.reason
    assert "RuntimeError: asked to fail on algo-1" in failed.log_tail
    record = json.loads((tmp_path / failed.job_name / "status.json").read_text())
    assert record["status"] == "Failed" and record["failure_reason"] == failed.reason


@pytest.mark.parametrize("repeat", range(3))
def test_a_host_that_finished_first_stays_resolvable_for_its_peers(
    toolkit_image, sample_data, tmp_path, ml_home, repeat
):
    # Without the TCP rendezvous one host often finishes before the other's toolkit has resolved it; Docker's DNS
    # forgets exited containers, so only the /etc/hosts entries we give every host keep the peer resolvable.
    op = _operator(
        toolkit_image, sample_data, tmp_path, instance_count=2, hyperparameters={"epochs": 1, "rendezvous": "no"}
    )
    op.max_runtime_s = 120
    result = op.execute(task_context())
    assert result["status"] == "Completed"
