"""SageMaker's ARNs for the resources the API creates: ``arn:aws:sagemaker:<region>:<account>:<type>/<name>``."""

from __future__ import annotations


def resource_arn(resource_type: str, name: str, region: str, account: str) -> str:
    """Return a resource's ARN, in SageMaker's form (names are lower-cased in ARNs).

    :param resource_type: ``training-job``, ``transform-job``, ``model``, ``endpoint-config`` or ``endpoint``.
    :param name: the resource's name.
    :param region: the API's region.
    :param account: the API's account id.
    """
    return f"arn:aws:sagemaker:{region}:{account}:{resource_type}/{name.lower()}"


def name_of_arn(arn: str) -> tuple[str, str] | None:
    """Return (resource type, lower-cased name) of a SageMaker ARN, or None when it is not one.

    :param arn: the ARN.
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sagemaker"] or "/" not in parts[5]:
        return None
    resource_type, name = parts[5].split("/", 1)
    return resource_type, name
