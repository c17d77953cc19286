"""CreateModel and CreateEndpointConfig: checked field by field when created (a field that cannot be honoured is
refused then, by name), kept in the API's state, run when a transform job or an endpoint names them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.api_server.config import ApiConfig
from ml_lifecycle.api_server.errors import in_use, not_found, validation
from ml_lifecycle.api_server.guards import check_locations, check_role
from ml_lifecycle.api_server.names import key_of, name_in
from ml_lifecycle.api_server.state import ApiState
from ml_lifecycle.core.sagemaker_api.arns import resource_arn
from ml_lifecycle.core.sagemaker_api.listing import SummaryKeys, select


def _check_model(request: Mapping[str, Any], config: ApiConfig) -> None:
    """Refuse a CreateModel request with a field that cannot be honoured, a model outside S3 or a role callers may
    not pass.

    :param request: the request.
    :param config: the API's settings.
    """
    from ml_lifecycle.core.sagemaker_api.model import model_kwargs

    kwargs = model_kwargs(request)
    locations = {"ModelDataUrl": kwargs["model_uri"]}
    if kwargs.get("source_dir"):
        locations["Environment.SAGEMAKER_SUBMIT_DIRECTORY"] = kwargs["source_dir"]
    check_locations(locations, config)
    check_role(kwargs.get("role_arn"), config, "ExecutionRoleArn")


def _check_endpoint_config(request: Mapping[str, Any], config: ApiConfig) -> None:
    """Refuse a CreateEndpointConfig request with a field that cannot be honoured, or other than one variant.

    :param request: the request.
    :param config: the API's settings.
    """
    from ml_lifecycle.core.sagemaker_api.endpoint import ENDPOINT_CONFIG_RULES
    from ml_lifecycle.core.sagemaker_api.fields import apply_rules

    variants = request.get("ProductionVariants")
    if not isinstance(variants, list) or len(variants) != 1:
        raise validation("ProductionVariants must hold exactly one variant: one production variant runs here")
    name_in(variants[0], "ModelName")
    check_role(
        apply_rules(request, ENDPOINT_CONFIG_RULES, "CreateEndpointConfig").get("role_arn"), config, "ExecutionRoleArn"
    )


@dataclass(frozen=True)
class StoredKind:
    """A kind of resource the API only stores (no job runs for it).

    :param state_kind: its folder in the API's state.
    :param title: how messages name one.
    :param noun: the operation names' noun (``Model``, ``EndpointConfig``).
    :param arn_type: its type in ARNs.
    :param check: refuses a request that cannot be honoured.
    :param summaries_field: the List response's field (``Models``).
    """

    state_kind: str
    title: str
    noun: str
    arn_type: str
    check: Callable[[Mapping[str, Any], ApiConfig], None]
    summaries_field: str


MODEL = StoredKind("models", "Model", "Model", "model", _check_model, "Models")
ENDPOINT_CONFIG = StoredKind(
    "endpoint-configs",
    "Endpoint configuration",
    "EndpointConfig",
    "endpoint-config",
    _check_endpoint_config,
    "EndpointConfigs",
)


class StoredApi:
    """Create, Describe, Delete and List of one stored kind.

    :param kind: the kind.
    :param config: the API's settings.
    :param state: the API's stored resources.
    """

    def __init__(self, kind: StoredKind, config: ApiConfig, state: ApiState) -> None:
        self.kind, self.config, self.state = kind, config, state

    def _name(self, request: Mapping[str, Any]) -> str:
        """Return the resource name a request gives.

        :param request: the request.
        """
        return name_in(request, f"{self.kind.noun}Name")

    def arn_of(self, name: str) -> str:
        """Return a resource's ARN (public: the tags are kept by it).

        :param name: its name.
        """
        return self._arn(name)

    def _arn(self, name: str) -> str:
        """Return a resource's ARN.

        :param name: its name.
        """
        return resource_arn(self.kind.arn_type, name, self.config.region, self.config.account_id)

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        """Check and keep a resource.

        :param request: the Create request.
        """
        name = self._name(request)
        self.kind.check(request, self.config)
        document = {"request": request, "created_epoch_s": time.time()}
        if not self.state.create(self.kind.state_kind, key_of(name), document):
            raise in_use(self.kind.title, name)
        return {f"{self.kind.noun}Arn": self._arn(name)}

    def get(self, name: str) -> dict[str, Any]:
        """Return a resource's stored document, or raise SageMaker's not-found error.

        :param name: its name.
        """
        document = self.state.get(self.kind.state_kind, key_of(name_in({"name": name}, "name")))
        if document is None:
            raise validation(f"Could not find {self.kind.title.lower()} {name!r}")
        return document

    def describe(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Return the resource as it was created.

        :param request: the Describe request.
        """
        name = self._name(request)
        document = self.get(name)
        stored = {k: v for k, v in document["request"].items() if k != "Tags"}
        return {**stored, f"{self.kind.noun}Arn": self._arn(name), "CreationTime": document["created_epoch_s"]}

    def delete(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Forget a resource (what already runs with it is not affected, as on SageMaker).

        :param request: the Delete request.
        """
        name = self._name(request)
        if self.state.get(self.kind.state_kind, key_of(name)) is None:
            raise not_found(self.kind.title, name)
        self.state.delete(self.kind.state_kind, key_of(name))
        return {}

    def list(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """List the resources, filtered by name and creation time, a page at a time.

        :param request: the List request.
        """
        name_field = f"{self.kind.noun}Name"
        summaries = []
        for name in self.state.names(self.kind.state_kind):
            document = self.state.get(self.kind.state_kind, name)
            if document is not None:
                summaries.append(
                    {
                        name_field: name,
                        f"{self.kind.noun}Arn": self._arn(name),
                        "CreationTime": document["created_epoch_s"],
                    }
                )
        page, token = select(summaries, request, SummaryKeys(name_field))
        response: dict[str, Any] = {self.kind.summaries_field: page}
        if token is not None:
            response["NextToken"] = token
        return response
