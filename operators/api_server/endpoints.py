"""CreateEndpoint, UpdateEndpoint, DescribeEndpoint, DeleteEndpoint and ListEndpoints, deployed by
DeployEndpointOperator's own ``deploy`` on the backend the request names.

A Create or Update answers at once and deploys in the background, as SageMaker does; the endpoint's status is what
its backend finds when asked (the containers or instances and GET /ping checked), not what the deploy meant to do.
What the API was asked is stored, so a restarted server still describes, updates and deletes its endpoints; a
deploy that a restart interrupted is reported Failed, with what to do.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ml_lifecycle.api_server.config import ApiConfig
from ml_lifecycle.api_server.errors import ApiError, in_use, not_found, validation
from ml_lifecycle.api_server.jobs import OWNER_LABEL
from ml_lifecycle.api_server.models import ENDPOINT_CONFIG, MODEL, StoredApi
from ml_lifecycle.api_server.names import key_of, name_in
from ml_lifecycle.api_server.process_owner import still_working, this_process
from ml_lifecycle.api_server.state import ApiState
from ml_lifecycle.core.ec2.endpoint_access import signing_region
from ml_lifecycle.core.sagemaker_api.arns import resource_arn
from ml_lifecycle.core.sagemaker_api.listing import SummaryKeys, select
from ml_lifecycle.core.status import EndpointStatus

log = logging.getLogger(__name__)

ENDPOINTS = "endpoints"
INTERRUPTED = "the API server stopped during this deploy: update the endpoint again, or delete it and create it again"
# UpdateEndpoint fields about keeping variant properties: one variant runs here, its config is the one given.
RETAIN_FIELDS = ("RetainAllVariantProperties", "ExcludeRetainedVariantProperties", "RetainDeploymentConfig")
DEPLOY_MARGIN_S = 900.0  # beyond the startup timeout: the image pull and the model fetch come first


class EndpointApi:
    """The endpoint operations.

    :param config: the API's settings.
    :param state: the API's stored resources.
    """

    def __init__(self, config: ApiConfig, state: ApiState) -> None:
        self.config, self.state = config, state
        self.models = StoredApi(MODEL, config, state)
        self.configs = StoredApi(ENDPOINT_CONFIG, config, state)
        self.deploys: dict[str, threading.Thread] = {}
        self.backends: dict[str, Any] = {}  # compute name -> its backend, built once (with its clients)
        # Called with an endpoint's name once a deploy of it ended or it was deleted (the runtime's lookups forget it).
        self.watchers: list[Callable[[str], None]] = []

    def _name(self, request: Mapping[str, Any]) -> str:
        """Return the endpoint name a request gives.

        :param request: the request.
        """
        return name_in(request, "EndpointName")

    def _document(self, name: str) -> dict[str, Any]:
        """Return an endpoint's stored document, or raise SageMaker's not-found error.

        :param name: the endpoint's name.
        """
        document = self.state.get(ENDPOINTS, key_of(name))
        if document is None:
            raise validation(f"Could not find endpoint {name!r}")
        return document

    def _operator(self, request: Mapping[str, Any], compute: str) -> Any:
        """Return the DeployEndpointOperator for an endpoint request, its config and model looked up now.

        :param request: the CreateEndpoint (or UpdateEndpoint) request.
        :param compute: the backend.
        """
        from ml_lifecycle.deploy_endpoint import DeployEndpointOperator

        config = self.configs.get(str(request.get("EndpointConfigName")))["request"]
        model_name = str(config["ProductionVariants"][0].get("ModelName"))
        model = self.models.get(model_name)["request"]
        endpoint = {k: v for k, v in request.items() if k not in RETAIN_FIELDS}
        return DeployEndpointOperator.from_sagemaker(
            {"Model": model, "EndpointConfig": config, "Endpoint": endpoint},
            task_id=str(request["EndpointName"]),
            compute=compute,
            aws_conn_id=self.config.aws_conn_id,
        )

    def create(self, request: dict[str, Any], caller: str) -> dict[str, Any]:
        """Start deploying a new endpoint; refuse a taken name or a config that cannot be honoured first.

        :param request: the CreateEndpoint request.
        :param caller: the access key id that signed it.
        """
        name = self._name(request)
        compute = self.config.compute_for(request)
        operator = self._operator(request, compute)
        if self.state.get(ENDPOINTS, key_of(name)) is None and self._backend(compute).endpoints().describe(name):
            raise ApiError(
                "ResourceInUse", f"Endpoint {name!r} exists on {compute} but was not created here: choose another name"
            )
        now = time.time()
        document = {
            "request": request,
            "compute": compute,
            "caller": caller,
            "created_epoch_s": now,
            "modified_epoch_s": now,
            "operation": EndpointStatus.CREATING.value,
            "deployer": this_process(self._deploy_deadline_s(operator)),
        }
        if not self.state.create(ENDPOINTS, key_of(name), document):
            raise in_use("Endpoint", name)
        self._deploy_in_background(name, operator, caller)
        return {"EndpointArn": self._arn(name)}

    def update(self, request: dict[str, Any], caller: str) -> dict[str, Any]:
        """Start deploying an endpoint's new config (blue/green, as its DeploymentConfig says).

        :param request: the UpdateEndpoint request.
        :param caller: the access key id that signed it.
        """
        name = self._name(request)
        document = self._document(name)
        if document.get("operation") and self._deploying(name, document.get("deployer") or {}):
            raise validation(f"Endpoint {name!r} is being deployed: update it once it is InService")
        wanted = {"EndpointName": name, **{k: v for k, v in request.items() if k not in RETAIN_FIELDS}}
        operator = self._operator(wanted, document["compute"])
        document.update(
            pending=wanted,  # becomes the endpoint's request once its deploy succeeds
            modified_epoch_s=time.time(),
            operation=EndpointStatus.UPDATING.value,
            failure="",
            deployer=this_process(self._deploy_deadline_s(operator)),
        )
        self.state.put(ENDPOINTS, key_of(name), document)
        self._deploy_in_background(name, operator, caller)
        return {"EndpointArn": self._arn(name)}

    @staticmethod
    def _deploy_deadline_s(operator: Any) -> float:
        """Return how long a deploy may take before another process counts it as interrupted.

        :param operator: the operator that deploys.
        """
        return float(operator.startup_timeout_s) + DEPLOY_MARGIN_S

    def _deploy_in_background(self, name: str, operator: Any, caller: str) -> None:
        """Deploy in a thread; when it ends, keep its outcome (the failure, if any) in the endpoint's document.

        :param name: the endpoint's name.
        :param operator: the operator that deploys it.
        :param caller: the access key id that asked.
        """

        def deploy() -> None:
            failure = ""
            try:
                operator.deploy({OWNER_LABEL: caller}, lambda line: log.info("%s: %s", name, line))
            except Exception as err:
                log.exception("Deploying endpoint %s failed", name)
                failure = f"{type(err).__name__}: {err}"
            try:
                document = self.state.get(ENDPOINTS, key_of(name))
                if document is not None:
                    pending = document.pop("pending", None)
                    if pending is not None and not failure:
                        document["request"] = pending
                    document.update(operation="", failure=failure, modified_epoch_s=time.time())
                    self.state.put(ENDPOINTS, key_of(name), document)
            finally:
                self._changed(name)

        thread = threading.Thread(target=deploy, name=f"deploy-{name}", daemon=True)
        self.deploys[name] = thread
        thread.start()

    def describe(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Describe an endpoint as its backend finds it now.

        :param request: the DescribeEndpoint request.
        """
        name = self._name(request)
        document = self._document(name)
        status, failure, view = self._status(name, document)
        stored = document["request"]
        response: dict[str, Any] = {
            "EndpointName": name,
            "EndpointArn": self._arn(name),
            "EndpointConfigName": stored.get("EndpointConfigName"),
            "EndpointStatus": status,
            "CreationTime": document["created_epoch_s"],
            "LastModifiedTime": document["modified_epoch_s"],
        }
        if failure:
            response["FailureReason"] = failure
        if view is not None and view.url:
            response["ProductionVariants"] = [self._variant(stored, view)]
        return response

    def _status(self, name: str, document: dict[str, Any]) -> tuple[str, str, Any]:
        """Return (EndpointStatus, FailureReason, the backend's view) of an endpoint.

        :param name: the endpoint's name.
        :param document: its stored document.
        """
        if document.get("operation"):
            if self._deploying(name, document.get("deployer") or {}):
                return document["operation"], "", None
            # No thread runs the deploy any more: the server that started it stopped during it.
            return (
                EndpointStatus.FAILED.value,
                INTERRUPTED,
                self._backend(document["compute"]).endpoints().describe(name),
            )
        view = self._backend(document["compute"]).endpoints().describe(name)
        if view is None:
            return EndpointStatus.FAILED.value, document.get("failure") or "its backend has no such endpoint", None
        if view.is_serving:
            return EndpointStatus.IN_SERVICE.value, document.get("failure", ""), view
        problem = view.serving_problem or view.failure_reason or document.get("failure") or f"it is {view.status}"
        return EndpointStatus.FAILED.value, problem, view

    def _deploying(self, name: str, deployer: Mapping[str, Any]) -> bool:
        """Say whether the process that started an endpoint's deploy still runs it (within its deadline).

        :param name: the endpoint's name.
        :param deployer: who started it (process_owner.this_process).
        """
        running = self.deploys.get(name)
        if running is not None and running.is_alive():
            return True
        return deployer.get("pid") != os.getpid() and still_working(deployer)

    def _variant(self, stored: Mapping[str, Any], view: Any) -> dict[str, Any]:
        """Return the DescribeEndpoint summary of the variant that serves.

        :param stored: the endpoint's request.
        :param view: its backend's view.
        """
        image: dict[str, Any] = {"SpecifiedImage": view.image_uri}
        if view.image_digest:
            image["ResolvedImage"] = f"{view.image_uri.split('@')[0].rsplit(':', 1)[0]}@{view.image_digest}"
        return {"VariantName": self._variant_name(stored), "DeployedImages": [image]}

    def delete(self, request: Mapping[str, Any], caller: str) -> dict[str, Any]:
        """Remove an endpoint and everything it runs.

        :param request: the DeleteEndpoint request.
        :param caller: the access key id that signed it.
        """
        name = self._name(request)
        document = self.state.get(ENDPOINTS, key_of(name))
        if document is None:
            raise not_found("Endpoint", name)
        if document.get("operation") and self._deploying(name, document.get("deployer") or {}):
            raise validation(f"Endpoint {name!r} is being deployed: delete it once the deploy ended")
        self._backend(document["compute"]).endpoints().delete(name, {OWNER_LABEL: caller}, log.info)
        self.state.delete(ENDPOINTS, key_of(name))
        self._changed(name)
        return {}

    def _changed(self, name: str) -> None:
        """Tell the watchers an endpoint changed.

        :param name: the endpoint's name.
        """
        for watcher in self.watchers:
            try:
                watcher(name)
            except Exception:  # the change happened: a watcher that fails must not say otherwise
                log.exception("Telling %r that endpoint %s changed failed", watcher, name)

    def list(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """List endpoints, filtered by name, status and time, a page at a time.

        :param request: the ListEndpoints request.
        """
        summaries = []
        for name in self.state.names(ENDPOINTS):
            document = self.state.get(ENDPOINTS, name)
            if document is None:
                continue
            name = str(document["request"]["EndpointName"])
            status, _, _ = self._status(name, document)
            summaries.append(
                {
                    "EndpointName": name,
                    "EndpointArn": self._arn(name),
                    "CreationTime": document["created_epoch_s"],
                    "LastModifiedTime": document["modified_epoch_s"],
                    "EndpointStatus": status,
                }
            )
        page, token = select(summaries, request, SummaryKeys("EndpointName", "EndpointStatus", "LastModifiedTime"))
        response: dict[str, Any] = {"Endpoints": page}
        if token is not None:
            response["NextToken"] = token
        return response

    def target_of(self, name: str) -> tuple[str, str, str | None]:
        """Return (the URL an endpoint serves at, its variant's name, the region its requests are signed for or None),
        or raise SageMaker runtime's error for an endpoint that does not serve.

        :param name: the endpoint's name.
        """

        document = self.state.get(ENDPOINTS, name)
        view = self._backend(document["compute"]).endpoints().describe(name) if document else None
        if document is None or view is None or not view.url:
            raise ApiError("ValidationError", f"Endpoint {name} of account {self.config.account_id} not found.")
        config = self.state.get(ENDPOINT_CONFIG.state_kind, str(document["request"].get("EndpointConfigName")))
        variant = (
            config["request"]["ProductionVariants"][0].get("VariantName", "AllTraffic") if config else "AllTraffic"
        )
        return str(view.url), str(variant), signing_region(view.details)

    def log_streams(self, name: str) -> tuple[dict[str, list[str]], float] | None:
        """Return an endpoint's log lines by stream (``<variant>/<container or instance>``, as SageMaker names
        them) and when it was created, or None for an endpoint this API does not know.

        :param name: the endpoint's name.
        """
        document = self.state.get(ENDPOINTS, name)
        if document is None:
            return None
        config = self.state.get(ENDPOINT_CONFIG.state_kind, str(document["request"].get("EndpointConfigName")))
        variant = (
            config["request"]["ProductionVariants"][0].get("VariantName", "AllTraffic") if config else "AllTraffic"
        )
        by_writer = self._backend(document["compute"]).endpoints().logs(name)
        return {f"{variant}/{writer}": lines for writer, lines in by_writer.items()}, float(document["created_epoch_s"])

    def _variant_name(self, stored: Mapping[str, Any]) -> str:
        """Return the name of the variant an endpoint request's config serves (AllTraffic when the config is gone).

        :param stored: the endpoint's request.
        """
        config = self.state.get(ENDPOINT_CONFIG.state_kind, key_of(str(stored.get("EndpointConfigName"))))
        return (
            str(config["request"]["ProductionVariants"][0].get("VariantName", "AllTraffic")) if config else "AllTraffic"
        )

    def _backend(self, compute: str) -> Any:
        """Return a backend, built on first use and kept (the runtime path looks endpoints up every few seconds).

        :param compute: its name.
        """
        from ml_lifecycle.compute import backend_for

        if compute not in self.backends:
            self.backends[compute] = backend_for(compute, self.config.aws_conn_id, self.config.backend_options)
        return self.backends[compute]

    def arn_of(self, name: str) -> str:
        """Return a resource's ARN (public: the tags are kept by it).

        :param name: its name.
        """
        return self._arn(name)

    def _arn(self, name: str) -> str:
        """Return an endpoint's ARN.

        :param name: its name.
        """
        return resource_arn("endpoint", name, self.config.region, self.config.account_id)
