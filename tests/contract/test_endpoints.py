"""The endpoint contract every backend meets: deploy, describe (checked against the endpoint itself), update, delete.

Locally the endpoint answers through its URL; on EC2 (moto) the load balancer's targets are healthy as soon as the
instances run (moto routes no traffic), which is what describe reads there.
"""

from __future__ import annotations

import uuid

import pytest

from ml_lifecycle.core.specs import EndpointSpec
from ml_lifecycle.core.status import EndpointStatus

pytestmark = pytest.mark.docker

OWNER = {"ml-lifecycle.dag-id": "contract", "ml-lifecycle.run-id": "run-1"}


def _spec(place, name: str) -> EndpointSpec:
    """Return an endpoint of the known linear model on the place.

    :param place: the Place.
    :param name: the endpoint's name.
    """
    return EndpointSpec(endpoint_name=name, image_uri=place.image, model_uri=place.extras["model_uri"])


def test_deploy_describe_update_delete(place) -> None:
    endpoints = place.backend.endpoints()
    name = f"contract-{uuid.uuid4().hex[:8]}"
    lines: list[str] = []
    try:
        first = endpoints.deploy(_spec(place, name), OWNER, lines.append)
        assert (first.endpoint_name, first.status) == (name, EndpointStatus.IN_SERVICE)
        assert first.url and first.revision and first.model_uri == place.extras["model_uri"]
        value = first.to_xcom()
        assert value["invocations_url"] == f"{first.url}/invocations"
        assert value["revision"] == first.revision

        seen = endpoints.describe(name)
        assert seen is not None and seen.is_serving, seen
        assert (seen.revision, seen.url) == (first.revision, first.url)

        second = endpoints.deploy(_spec(place, name), OWNER, lines.append)
        assert second.revision != first.revision and second.url == first.url
        assert endpoints.describe(name).revision == second.revision
    finally:
        removed = endpoints.delete(name, OWNER, lines.append)
    assert sum(removed.values()) >= 1, removed
    assert endpoints.describe(name) is None
