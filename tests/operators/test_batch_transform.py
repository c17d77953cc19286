"""BatchTransformOperator with compute="local": the example image serving a known model over real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.helpers import managed_containers, task_context
from support.models import linear_model_archive

from ml_lifecycle import BatchTransformOperator
from ml_lifecycle.errors import SpecError, TransformFailed

pytestmark = pytest.mark.docker

WEIGHTS = [1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]


def _rows(count: int, offset: int = 0) -> list[list[float]]:
    """Make feature rows whose predictions are easy to compute.

    :param count: how many rows.
    :param offset: the value of the first feature of the first row.
    """
    return [[float(offset + i), 1.0, 0, 0, 0, 0, 0, 2.0] for i in range(count)]


def _expected(rows: list[list[float]]) -> list[float]:
    """Predict rows with WEIGHTS and an intercept of 0.5.

    :param rows: feature rows.
    """
    return [sum(w * x for w, x in zip(WEIGHTS, row, strict=True)) + 0.5 for row in rows]


def _write_csv(path: Path, rows: list[list[float]]) -> None:
    """Write rows as CSV.

    :param path: the file.
    :param rows: the rows.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(str(v) for v in row) + "\n" for row in rows))


@pytest.fixture
def model_uri(tmp_path: Path) -> str:
    """A model.tar.gz of the known linear model."""
    return linear_model_archive(tmp_path / "model" / "model.tar.gz", WEIGHTS, intercept=0.5)


@pytest.mark.parametrize(
    ("batch_strategy", "max_concurrent_transforms", "max_payload_mb"),
    [("MultiRecord", None, 1), ("SingleRecord", 4, 6), (None, None, None)],
    ids=["multi-record", "single-record-4-concurrent", "container-decides"],
)
def test_every_object_is_transformed_in_order_under_its_relative_name(
    example_image,
    model_uri,
    tmp_path,
    ml_home,
    docker_client,
    batch_strategy,
    max_concurrent_transforms,
    max_payload_mb,
):
    inputs = {"a.csv": _rows(3000), "nested/deeper/b.csv": _rows(7, offset=100)}
    for name, rows in inputs.items():
        _write_csv(tmp_path / "in" / name, rows)
    context = task_context()
    op = BatchTransformOperator(
        task_id="transform",
        image_uri=example_image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        content_type="text/csv",
        batch_strategy=batch_strategy,
        max_concurrent_transforms=max_concurrent_transforms,
        max_payload_mb=max_payload_mb,
    )
    result = op.execute(context)

    assert result["status"] == "Completed"
    for name, rows in inputs.items():
        lines = (tmp_path / "out" / f"{name}.out").read_text().splitlines()
        assert [float(v) for v in lines] == pytest.approx(_expected(rows))
    assert result["metrics"]["records"] == 3007
    record = json.loads(Path(result["record_uri"].removeprefix("file://")).read_text())
    assert record["status"] == "Completed"
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def test_a_bad_file_fails_by_name_and_the_others_complete(example_image, model_uri, tmp_path, ml_home, docker_client):
    _write_csv(tmp_path / "in" / "good.csv", _rows(5))
    (tmp_path / "in" / "bad.csv").write_text("1,2,not-a-number\n")
    context = task_context()
    op = BatchTransformOperator(
        task_id="transform",
        image_uri=example_image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        content_type="text/csv",
        max_retries=0,
    )
    with pytest.raises(TransformFailed, match=r"1 of 2 input objects failed.*bad\.csv"):
        op.execute(context)

    assert (tmp_path / "out" / "good.csv.out").is_file()
    assert not (tmp_path / "out" / "bad.csv.out").exists()
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def test_a_completed_transform_is_not_run_again_on_retry(example_image, model_uri, tmp_path, ml_home):
    _write_csv(tmp_path / "in" / "x.csv", _rows(4))
    context = task_context()
    args = dict(
        task_id="transform",
        image_uri=example_image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
        content_type="text/csv",
    )
    first = BatchTransformOperator(**args).execute(context)
    (tmp_path / "out" / "x.csv.out").write_text("kept\n")
    again = BatchTransformOperator(**args).execute(context)
    assert again["job_name"] == first["job_name"]
    assert (tmp_path / "out" / "x.csv.out").read_text() == "kept\n"


def test_empty_input_is_refused_before_containers_start(example_image, model_uri, tmp_path, ml_home, docker_client):
    (tmp_path / "in").mkdir()
    context = task_context()
    op = BatchTransformOperator(
        task_id="transform",
        image_uri=example_image,
        model_uri=model_uri,
        input_uri=f"file://{tmp_path}/in",
        output_uri=f"file://{tmp_path}/out",
    )
    with pytest.raises(SpecError, match="input_uri"):
        op.execute(context)
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [
        ({"input_uri": "gs://bucket/x"}, "input_uri"),
        ({"split_type": "TFRecord"}, "split_type"),
        ({"image_uri": "UPPER/Case"}, "image_uri"),
        ({"instance_count": 0}, "instance_count"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(overrides, parameter):
    args = dict(
        task_id="t", image_uri="img:1", model_uri="file:///m.tar.gz", input_uri="file:///in", output_uri="file:///out"
    )
    args.update(overrides)
    with pytest.raises(SpecError) as caught:
        BatchTransformOperator(**args)
    assert caught.value.parameter == parameter
