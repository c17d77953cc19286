"""The ``ml-lifecycle:`` tags of an EndpointConfig or Endpoint: how a SageMaker client asks for what SageMaker's own
fields cannot say here (an EC2 endpoint's access: IAM authentication, TLS, the load balancer's network).

SageMaker clients pass tags unchanged (the SDK's ``deploy(tags=...)`` puts the same ones on the model, the endpoint
config and the endpoint), so a tag is the one way every client has to reach these options. A tag value may hold
letters, digits, spaces and ``_.:/=+-@`` only: lists are separated by spaces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.fields import FieldRule

PREFIX = "ml-lifecycle:"
# Read by the API server itself (which backend runs the request), not by the translation.
COMPUTE_TAG = "ml-lifecycle:compute"


def _words(value: str) -> list[str]:
    """Return a space-separated tag value as a list (a tag value cannot hold commas).

    :param value: the tag's value.
    """
    return value.split()


# tag key -> (DeployEndpointOperator parameter, how the value becomes it, what it does, for the README)
ACCESS_TAGS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "ml-lifecycle:auth": ("auth", str, "`auth`: `iam` puts an API Gateway HTTP API with IAM authorization in front"),
    "ml-lifecycle:certificate-arn": (
        "certificate_arn",
        str,
        "`certificate_arn`: HTTPS on 443 with that ACM certificate",
    ),
    "ml-lifecycle:alb-scheme": ("alb_scheme", str, "`alb_scheme` (`internal`, the default)"),
    "ml-lifecycle:ingress-cidrs": ("ingress_cidrs", _words, "`ingress_cidrs`, separated by spaces"),
    "ml-lifecycle:alb-subnet-ids": ("alb_subnet_ids", _words, "`alb_subnet_ids`, separated by spaces"),
}


def access_from_tags(tags: Any, path: str) -> dict[str, Any]:
    """Return DeployEndpointOperator's access parameters that a request's ``ml-lifecycle:`` tags set.

    Other tags are left alone; an ``ml-lifecycle:`` key that means nothing here is refused by name (a typo must not
    leave an endpoint open or closed by surprise).

    :param tags: the request's Tags: ``[{"Key": ..., "Value": ...}]``.
    :param path: the field's path in messages (``EndpointConfig.Tags``).
    """
    if not isinstance(tags, list) or not all(isinstance(t, Mapping) and isinstance(t.get("Key"), str) for t in tags):
        raise SpecError(path, f"{tags!r} is not a list of tags", 'Write [{"Key": "ml-lifecycle:auth", "Value": "iam"}]')
    found: dict[str, Any] = {}
    for tag in tags:
        key, value = tag["Key"], tag.get("Value", "")
        if not key.startswith(PREFIX) or key == COMPUTE_TAG:
            continue
        if key not in ACCESS_TAGS:
            raise SpecError(f"{path}[{key}]", "is not a tag this endpoint reads", f"Use one of {sorted(ACCESS_TAGS)}")
        if not isinstance(value, str) or not value.strip():
            raise SpecError(f"{path}[{key}]", f"has the value {value!r}", "Give the option's value, e.g. iam")
        parameter, convert, _ = ACCESS_TAGS[key]
        found[parameter] = convert(value.strip())
    return found


def tags_rule(path: str) -> FieldRule:
    """Return the rule of a request's Tags: its ``ml-lifecycle:`` access tags set parameters, other tags change nothing.

    :param path: the field's path (``Tags``).
    """

    def apply(kwargs: dict[str, Any], value: Any, _: tuple[int, ...]) -> None:
        kwargs.update(access_from_tags(value, path))

    keys = ", ".join(f"`{key}` ({effect})" for key, (_, _, effect) in ACCESS_TAGS.items())
    return FieldRule(path, f"other tags accepted with no effect; {keys}", apply)


def merged_access(config_access: Mapping[str, Any], endpoint_access: Mapping[str, Any]) -> dict[str, Any]:
    """Return the access parameters of an endpoint config's and an endpoint's tags, refusing two different values.

    :param config_access: what the EndpointConfig's tags set.
    :param endpoint_access: what the Endpoint's tags set.
    """
    for parameter in set(config_access) & set(endpoint_access):
        if config_access[parameter] != endpoint_access[parameter]:
            raise SpecError(
                "Tags",
                f"the EndpointConfig's and the Endpoint's tags set {parameter} to {config_access[parameter]!r} and "
                f"{endpoint_access[parameter]!r}",
                "Give the tag on one of them, or the same value on both",
            )
    return {**config_access, **endpoint_access}
