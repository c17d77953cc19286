"""CreateModel, field by field: the serving image, the model, its environment and role, in the terms of
BatchTransformOperator and DeployEndpointOperator.

A framework model in script mode arrives as the SDK creates it: SAGEMAKER_PROGRAM and SAGEMAKER_SUBMIT_DIRECTORY
in the environment. A submit directory in S3 (the SDK's sourcedir.tar.gz, fetched by the container on SageMaker)
becomes ``entry_point`` and ``source_dir``, so the model is repacked with ``code/`` and no container needs S3 access;
``/opt/ml/model/code`` (a model the SDK repacked already) runs as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.fields import FieldRule, apply_rules, maps_to, no_effect, refused, vpc_rule
from ml_lifecycle.core.script_mode import LOG_LEVEL, PROGRAM, SUBMIT_DIRECTORY

CONTAINER = "PrimaryContainer"
S3_MODEL = f"{CONTAINER}.ModelDataSource.S3DataSource"
REGISTRY_LOGIN = "images are pulled by the engine (ECR with a token; other registries with registry_conn_id)"


MODEL_RULES: tuple[FieldRule, ...] = (
    no_effect("ModelName", "accepted; the model is the config's own (no model objects are kept here)"),
    maps_to(f"{CONTAINER}.Image", "image_uri"),
    maps_to(f"{CONTAINER}.ModelDataUrl", "model_uri"),
    maps_to(f"{CONTAINER}.Environment", "environment", dict),
    no_effect(f"{CONTAINER}.ContainerHostname"),
    refused(f"{CONTAINER}.Mode", "multi-model endpoints do not run here", ("SingleModel",)),
    refused(f"{CONTAINER}.ImageConfig.RepositoryAccessMode", REGISTRY_LOGIN, ("Platform",)),
    refused(f"{CONTAINER}.ImageConfig.RepositoryAuthConfig", "give the operator registry_conn_id instead"),
    maps_to(f"{S3_MODEL}.S3Uri", "model_uri"),
    refused(f"{S3_MODEL}.S3DataType", "give a model.tar.gz object or an uncompressed prefix", ("S3Object", "S3Prefix")),
    refused(f"{S3_MODEL}.CompressionType", "a model is a tar.gz object or a prefix of files", ("None", "Gzip")),
    refused(f"{S3_MODEL}.ModelAccessConfig", "JumpStart's gated models are not fetched here"),
    refused(f"{S3_MODEL}.HubAccessConfig", "SageMaker hubs are not read here"),
    refused(f"{S3_MODEL}.ManifestS3Uri", "give the model's S3 prefix or object"),
    refused(f"{S3_MODEL}.ETag", "give the model's S3 prefix or object"),
    refused(f"{S3_MODEL}.ManifestEtag", "give the model's S3 prefix or object"),
    refused(f"{CONTAINER}.AdditionalModelDataSources", "one model location per container runs here"),
    refused(f"{CONTAINER}.ModelPackageName", "SageMaker model packages are not read here: give Image and ModelDataUrl"),
    refused(f"{CONTAINER}.InferenceSpecificationName", "give Image and ModelDataUrl"),
    refused(f"{CONTAINER}.MultiModelConfig", "multi-model endpoints do not run here"),
    no_effect(f"{CONTAINER}.ContainerMetricsConfig"),
    no_effect("InferenceExecutionConfig", "accepted; one container runs"),
    maps_to("ExecutionRoleArn", "role_arn"),
    no_effect("Tags", "accepted; resources are labelled with the Airflow task instance instead"),
    vpc_rule("Subnets"),
    vpc_rule("SecurityGroupIds"),
    refused("EnableNetworkIsolation", "serving containers here are not network-isolated", (False,)),
)


def model_kwargs(request: Mapping[str, Any]) -> dict[str, Any]:
    """Return the serving operators' keyword arguments for a CreateModel request.

    :param request: the request (the provider's ``config["Model"]``).
    """
    if not isinstance(request, Mapping):
        raise SpecError("Model", "is not a CreateModel request", "Pass the request as a dict (JSON object)")
    containers = request.get("Containers")
    if containers is not None:
        if not isinstance(containers, list) or len(containers) != 1 or CONTAINER in request:
            raise SpecError(
                "Containers",
                "holds other than one container",
                "Inference pipelines do not run here: give one container (Containers[0] or PrimaryContainer)",
            )
        request = {**{k: v for k, v in request.items() if k != "Containers"}, CONTAINER: containers[0]}
    kwargs = apply_rules(request, MODEL_RULES, "CreateModel")
    if "image_uri" not in kwargs or "model_uri" not in kwargs:
        raise SpecError(CONTAINER, "has no Image or no model location", "Give Image and ModelDataUrl")
    return _script_mode(kwargs)


def _script_mode(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Turn a framework model's S3 submit directory into entry_point and source_dir.

    :param kwargs: the keyword arguments so far.
    """
    environment = dict(kwargs.get("environment") or {})
    submit = environment.get(SUBMIT_DIRECTORY.upper(), "")
    if not submit.startswith("s3://"):
        return kwargs
    program = environment.get(PROGRAM.upper())
    if not program:
        raise SpecError(
            f"{CONTAINER}.Environment", f"names code ({submit}) but no SAGEMAKER_PROGRAM", "Name the entry point"
        )
    for name in (PROGRAM, SUBMIT_DIRECTORY):
        environment.pop(name.upper())
    level = environment.pop(LOG_LEVEL.upper(), None)
    kwargs.update(environment=environment, entry_point=program, source_dir=submit)
    if level is not None:
        kwargs["container_log_level"] = int(level)
    return kwargs
