"""The check every API answer passes in these tests can fail: an undeclared field, a missing required one and a
wrongly typed one are each found."""

from __future__ import annotations

import boto3
from botocore.validate import ParamValidator
from support.api_server import undeclared_fields

SHAPE = (
    boto3.client("sagemaker", region_name="us-east-1")
    .meta.service_model.operation_model("DescribeTrainingJob")
    .output_shape
)
GOOD = {
    "TrainingJobName": "j",
    "TrainingJobArn": "arn:aws:sagemaker:us-east-1:000000000000:training-job/j",
    "ModelArtifacts": {"S3ModelArtifacts": "s3://b/j/output/model.tar.gz"},
    "TrainingJobStatus": "Completed",
    "SecondaryStatus": "Completed",
    "AlgorithmSpecification": {"TrainingImage": "i", "TrainingInputMode": "File"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
    "StoppingCondition": {},
    "CreationTime": 1.0,
}


def test_a_good_answer_passes():
    assert undeclared_fields(GOOD, SHAPE) == []
    assert not ParamValidator().validate(GOOD, SHAPE).has_errors()


def test_an_undeclared_field_is_found_at_any_depth():
    bad = {**GOOD, "Made": 1, "ResourceConfig": {**GOOD["ResourceConfig"], "Up": 2}}
    assert sorted(undeclared_fields(bad, SHAPE)) == ["Made", "ResourceConfig.Up"]


def test_a_missing_required_field_and_a_wrong_type_are_found():
    missing = {k: v for k, v in GOOD.items() if k != "TrainingJobStatus"}
    assert "TrainingJobStatus" in ParamValidator().validate(missing, SHAPE).generate_report()
    wrong = {**GOOD, "ResourceConfig": {**GOOD["ResourceConfig"], "InstanceCount": "one"}}
    assert "InstanceCount" in ParamValidator().validate(wrong, SHAPE).generate_report()
