"""The endpoint activity contract every backend meets: a deployed endpoint is listed with its running instances, its
age and a request count kept by its front; one that served no request has no last request.

Locally the proxy logs the requests; on EC2 (moto) the load balancer's RequestCount is read from CloudWatch, where
moto computes nothing: an endpoint nobody called there has no datapoint, as on AWS.
"""

from __future__ import annotations

import time
import uuid

import pytest

from ml_lifecycle.core import labels
from ml_lifecycle.core.specs import EndpointSpec

pytestmark = pytest.mark.docker


def test_a_deployed_endpoint_reports_its_instances_age_and_no_request_yet(place) -> None:
    endpoints = place.backend.endpoints()
    name = f"activity-{uuid.uuid4().hex[:8]}"
    scope = {"ml-lifecycle.dag-id": f"contract-{uuid.uuid4().hex[:8]}", "ml-lifecycle.run-id": "run-1"}
    owner = {**scope, **labels.endpoint_labels("ml.m5.large", 12.0)}
    spec = EndpointSpec(endpoint_name=name, image_uri=place.image, model_uri=place.extras["model_uri"])
    before = time.time()
    try:
        endpoints.deploy(spec, owner, lambda line: None)
        (found,) = endpoints.activity({"ml-lifecycle.dag-id": scope["ml-lifecycle.dag-id"]})
        assert (found.endpoint_name, found.instance_count, found.idle_delete_after_h) == (name, 1, 12.0)
        assert found.instance_type.removeprefix("ml.") == "m5.large"
        assert before - 5 <= found.created_epoch_s <= found.serving_since_epoch_s + 5
        assert found.counted_since_epoch_s is not None and found.last_request_epoch_s is None
        (running,) = found.fleet  # its one instance, running since it started: the running cost counts from there
        assert (running.instance_count, running.end_epoch_s) == (1, None)
        assert before - 5 <= running.start_epoch_s and running.instance_type.removeprefix("ml.") == "m5.large"
    finally:
        endpoints.delete(name, owner, lambda line: None)
    assert endpoints.activity({"ml-lifecycle.dag-id": scope["ml-lifecycle.dag-id"]}) == []
