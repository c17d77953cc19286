"""ProcessOnEC2Operator: parse-time checks, and a real split on the local engine with the example processing image."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.helpers import task_context

from ml_lifecycle import ProcessOnEC2Operator
from ml_lifecycle.errors import SpecError

SPLIT_OUTPUTS = ("train", "validation")


def _operator(processing_image: str, sample_data: Path, out: Path, **overrides: object) -> ProcessOnEC2Operator:
    """Return a split of the sample data's training rows into train/ and validation/ below out.

    :param processing_image: the example processing image.
    :param sample_data: the sample data.
    :param out: where the outputs go.
    :param overrides: more operator arguments.
    """
    args: dict[str, object] = {
        "task_id": "split",
        "image_uri": processing_image,
        "inputs": [
            {
                "name": "raw",
                "source": f"file://{sample_data}/train",
                "local_path": "/opt/ml/processing/input",
                "distribution": "ShardedByS3Key",  # each host splits its share of the files: every row once
            },
        ],
        "outputs": [
            {"name": name, "local_path": f"/opt/ml/processing/{name}", "destination": f"file://{out}/{name}"}
            for name in SPLIT_OUTPUTS
        ],
        "arguments": ["--validation-fraction", "0.25"],
        "max_runtime_s": 300,
        **overrides,
    }
    return ProcessOnEC2Operator(**args)  # type: ignore[arg-type]


def test_a_bad_input_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(SpecError, match=r"inputs\['raw'\]\.local_path: '/data' is not below /opt/ml/processing/"):
        ProcessOnEC2Operator(
            task_id="p", image_uri="img:1", inputs=[{"name": "raw", "source": "s3://b/p", "local_path": "/data"}]
        )


def test_volume_size_becomes_the_instances_volume_unless_ec2_settings_names_one() -> None:
    assert ProcessOnEC2Operator(task_id="p", image_uri="img:1", volume_size_gb=64).backend_options()[
        "ec2_settings"
    ] == {"volume_size_gb": 64}
    explicit = ProcessOnEC2Operator(
        task_id="p", image_uri="img:1", volume_size_gb=64, ec2_settings={"volume_size_gb": 200}
    )
    assert explicit.backend_options()["ec2_settings"] == {"volume_size_gb": 200}


@pytest.mark.docker
def test_the_split_names_its_outputs_in_xcom_and_a_retry_reuses_it(
    processing_image: str, sample_data: Path, tmp_path: Path, ml_home: Path
) -> None:
    context = task_context()
    operator = _operator(processing_image, sample_data, tmp_path / "out", instance_count=2)

    result = operator.execute(context)

    assert result["status"] == "Completed"
    assert {name: result[name] for name in SPLIT_OUTPUTS} == {n: f"file://{tmp_path}/out/{n}" for n in SPLIT_OUTPUTS}
    assert result["record_uri"].startswith(f"file://{ml_home}/artifacts/processing/{result['job_name']}/")
    rows = sum(len(p.read_text().splitlines()) for p in (sample_data / "train").iterdir())
    written = {
        name: {p.name: len(p.read_text().splitlines()) for p in (tmp_path / "out" / name).iterdir()}
        for name in SPLIT_OUTPUTS
    }
    assert set(written["train"]) == set(written["validation"]) == {"algo-1.csv", "algo-2.csv"}
    assert sum(sum(counts.values()) for counts in written.values()) == rows
    assert 0 < sum(written["validation"].values()) < rows / 2
    assert operator.lineage == ([f"file://{sample_data}/train"], [result[n] for n in SPLIT_OUTPUTS])

    again = _operator(processing_image, sample_data, tmp_path / "out", instance_count=2).execute(context)
    assert again == result
