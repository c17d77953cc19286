"""The SageMaker Python SDK v2, unchanged, against our API on the local engine: Estimator.fit with a
bring-your-own image, Transformer.transform, deploy and Predictor.predict; a framework estimator in script mode."""

from __future__ import annotations

import io
import json
import tarfile
import uuid

import pytest
from support.sdk import run_scenario

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
# The image the SDK's SKLearnProcessor(framework_version="1.2-1") runs in us-east-1.
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def _upload(s3, folder, prefix: str) -> str:
    """Upload a folder's files under s3://ml-bucket/<prefix>/ and return that URI.

    :param s3: the S3 client.
    :param folder: the folder.
    :param prefix: the key prefix.
    """
    for path in sorted(folder.iterdir()):
        s3.upload_file(str(path), "ml-bucket", f"{prefix}/{path.name}")
    return f"s3://ml-bucket/{prefix}"


def test_an_estimator_fits_transforms_deploys_and_predicts(
    api_url, moto_server, s3, example_image, sample_data, tmp_path, docker_client
):
    suffix = uuid.uuid4().hex[:8]
    row = (sample_data / "score" / "score.csv").read_text().splitlines()[0]
    seen = run_scenario(
        "bring_your_own",
        {
            "image": example_image,
            "role": ROLE,
            "output_path": "s3://ml-bucket/sdk-output",
            "train_uri": _upload(s3, sample_data / "train", "data/train"),
            "score_uri": _upload(s3, sample_data / "score", "data/score"),
            "transform_output": f"s3://ml-bucket/sdk-predictions/{suffix}",
            "job_name": f"sdk-byo-{suffix}",
            "endpoint_name": f"sdk-endpoint-{suffix}",
            "row": row,
        },
        api_url,
        moto_server,
        tmp_path,
    )

    assert seen["status"] == "Completed" and seen["transform_status"] == "Completed"
    assert seen["model_data"] == f"s3://ml-bucket/sdk-output/sdk-byo-{suffix}/output/model.tar.gz"
    scored = s3.get_object(Bucket="ml-bucket", Key=f"sdk-predictions/{suffix}/score.csv.out")["Body"].read().decode()
    assert float(seen["prediction"][0][0]) == float(scored.splitlines()[0])
    assert not docker_client.containers.list(
        all=True, filters={"label": f"ml-lifecycle.endpoint=sdk-endpoint-{suffix}"}
    )


def test_a_framework_estimator_runs_its_script_in_script_mode(
    api_url, moto_server, s3, docker_client, toolkit_image, sample_data, tmp_path
):
    from support.framework_image import framework_image, script_mode_sources

    suffix = uuid.uuid4().hex[:8]
    source, helpers = script_mode_sources(tmp_path)
    seen = run_scenario(
        "script_mode",
        {
            "image": framework_image(docker_client, toolkit_image),
            "role": ROLE,
            "source_dir": str(source),
            "dependency": str(helpers),
            "output_path": "s3://ml-bucket/sdk-output",
            "code_location": "s3://ml-bucket/sdk-code",
            "train_uri": _upload(s3, sample_data / "train", "data/train"),
            "job_name": f"sdk-script-{suffix}",
        },
        api_url,
        moto_server,
        tmp_path,
    )

    assert seen["status"] == "Completed"
    body = s3.get_object(Bucket="ml-bucket", Key=seen["model_data"][len("s3://ml-bucket/") :])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        trained = json.loads(tar.extractfile("result.json").read())  # type: ignore[union-attr]
    assert (trained["epochs"], trained["name"], trained["tiny"], trained["helper"]) == (
        4,
        "from the sdk",
        "tiny-ok",
        42,
    )


def test_a_hyperparameter_tuner_fits_and_its_best_trial_attaches_as_an_estimator(
    api_url, moto_server, s3, curve_image, tmp_path
):
    s3.put_object(Bucket="ml-bucket", Key="data/curve/x.csv", Body=b"1\n")
    name = f"sdk-tune-{uuid.uuid4().hex[:8]}"
    seen = run_scenario(
        "tuner",
        {
            "image": curve_image,
            "role": ROLE,
            "output_path": "s3://ml-bucket/sdk-tuning",
            "train_uri": "s3://ml-bucket/data/curve",
            "job_name": name,
        },
        api_url,
        moto_server,
        tmp_path,
    )

    assert seen["status"] == "Completed"
    assert len(seen["trials"]) == 3 and all(t.startswith(f"{name}-") for t in seen["trials"])
    assert seen["best_training_job"] in seen["trials"]
    assert seen["best_model_data"] == f"s3://ml-bucket/sdk-tuning/{seen['best_training_job']}/output/model.tar.gz"
    # The best trial's hyperparameters are its own: its loss, a known function of them, is the lowest of the three.
    hp = seen["best_hyperparameters"]
    loss = (float(json.loads(hp["x"]) if hp["x"].startswith('"') else hp["x"]) - 0.3) ** 2
    loss += {"a": 0.0, "c": 1.0}[hp["opt"].strip('"')] + 1 / 3
    assert loss == pytest.approx(seen["objective_values"][0], abs=1e-4)


@pytest.mark.parametrize("scenario", ["script_processor", "sklearn_processor"])
def test_a_script_processor_runs_its_script_in_our_own_image(
    scenario, api_url, moto_server, s3, processing_image, docker_client, tmp_path
):
    from support.sdk import REPO_ROOT

    # SKLearnProcessor names AWS's scikit-learn image in ECR, which no pull reaches here: the engine gets an image of
    # that name (ours, with python3; the split script needs nothing of scikit-learn).
    repository, tag = SKLEARN_IMAGE.rsplit(":", 1)
    docker_client.images.get(processing_image).tag(repository, tag)
    rows = "".join(f"{i},{i * 3}\n" for i in range(100))
    s3.put_object(Bucket="ml-bucket", Key="sdk-raw/rows.csv", Body=rows.encode())
    name = f"sdk-process-{uuid.uuid4().hex[:8]}"
    seen = run_scenario(
        scenario,
        {
            "image": processing_image,
            "role": ROLE,
            "script": str(REPO_ROOT / "examples" / "containers" / "processing" / "split.py"),
            "raw_uri": "s3://ml-bucket/sdk-raw",
            "output": f"s3://ml-bucket/sdk-split/{name}",
            "bucket": "ml-bucket",
            "job_name": name,
        },
        api_url,
        moto_server,
        tmp_path,
    )

    assert seen["status"] == "Completed"
    assert seen["image"] == (SKLEARN_IMAGE if scenario == "sklearn_processor" else processing_image)
    parts = {}
    for part, uri in seen["outputs"].items():
        key = uri[len("s3://ml-bucket/") :] + "/algo-1.csv"
        parts[part] = s3.get_object(Bucket="ml-bucket", Key=key)["Body"].read().decode().splitlines()
    assert sorted(parts["train"] + parts["validation"]) == sorted(rows.splitlines()) and parts["validation"]
