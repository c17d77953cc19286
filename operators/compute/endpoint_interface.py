"""The endpoint interface every backend implements, and the endpoint as a backend reports it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ml_lifecycle.core.endpoint_idleness import EndpointActivity
from ml_lifecycle.core.status import EndpointStatus

LogSink = Callable[[str], None]


@dataclass(frozen=True)
class EndpointView:
    """An endpoint as its backend sees it now; ``to_xcom`` renders the deploy's and the sensor's XCom value.

    :param endpoint_name: the endpoint's name.
    :param status: SageMaker's EndpointStatus (Creating, Updating, InService, Failed, Deleting).
    :param url: its base URL (POST ``<url>/invocations``), "" before it has one.
    :param revision: the revision that serves.
    :param model_uri: the model that revision serves.
    :param image_uri: the image that revision runs.
    :param image_digest: that image's digest, when known.
    :param failure_reason: why the last deploy or update failed ("" when it did not).
    :param serving_problem: why it cannot serve now although its status says InService ("" when it serves), as
        found by checking the thing itself (a container's state, a health check, GET /ping).
    :param details: backend-specific values the task also reports (e.g. ``state_uri``, ``load_balancer_arn``).
    """

    endpoint_name: str
    status: str
    url: str = ""
    revision: str = ""
    model_uri: str = ""
    image_uri: str = ""
    image_digest: str = ""
    failure_reason: str = ""
    serving_problem: str = ""
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_serving(self) -> bool:
        """Say whether the endpoint is InService and was found answering."""
        return self.status == EndpointStatus.IN_SERVICE and not self.serving_problem

    def to_xcom(self) -> dict[str, Any]:
        """Return the task's XCom value: where to invoke the endpoint and what it serves."""
        value: dict[str, Any] = {
            "endpoint_name": self.endpoint_name,
            "url": self.url,
            "invocations_url": f"{self.url}/invocations" if self.url else "",
            "revision": self.revision,
            "model_uri": self.model_uri,
            "image_uri": self.image_uri,
        }
        if self.image_digest:
            value["image_digest"] = self.image_digest
        value.update(self.details)
        return value


@dataclass(frozen=True)
class DeployWait:
    """What a deferred deploy waits for in the triggerer: the backend's own record of where its rollout stands.

    The Airflow glue turns it into an EndpointDeployTrigger (``ml_lifecycle.triggers.endpoint_deploy``); the trigger asks
    the backend's ``check_deploy`` until it answers ``ok`` or ``failed``, and the task resumes with ``resume_deploy``.

    :param endpoint_name: the endpoint's name.
    :param what: what is awaited, for the task log.
    :param progress: where the rollout stands, as the backend records it (JSON-safe).
    :param deadline_epoch_s: when the trigger gives up (the event is then ``failed``).
    """

    endpoint_name: str
    what: str
    progress: Mapping[str, Any]
    deadline_epoch_s: float


class EndpointBackend(ABC):
    """Live endpoints on one backend: deploy (create or update in place), describe, delete, and their activity."""

    records_data_capture: ClassVar[bool] = False  # deploy honours a spec's data_capture; if not, it is refused

    @abstractmethod
    def deploy(self, spec: Any, owner: Mapping[str, str], sink: LogSink) -> EndpointView:
        """Create the endpoint, or update it without downtime; return it once it serves the new revision.

        :param spec: the EndpointSpec.
        :param owner: the Airflow identity labels.
        :param sink: the task log.
        """

    @abstractmethod
    def describe(self, endpoint_name: str) -> EndpointView | None:
        """Return the endpoint as it is now (its status checked against the thing itself), or None.

        :param endpoint_name: the endpoint's name.
        """

    @abstractmethod
    def delete(self, endpoint_name: str, owner: Mapping[str, str], sink: LogSink) -> dict[str, int]:
        """Remove the endpoint and everything it runs; return what was removed, by kind.

        :param endpoint_name: the endpoint's name.
        :param owner: the Airflow identity labels (a deploy of the same DAG run does not block the delete).
        :param sink: the task log.
        """

    @abstractmethod
    def logs(self, endpoint_name: str) -> dict[str, list[str]]:
        """Return the log lines of the endpoint's serving containers, by the container or instance that wrote them.

        :param endpoint_name: the endpoint's name.
        """

    def begin_deploy(self, spec: Any, owner: Mapping[str, str], sink: LogSink) -> EndpointView | DeployWait:
        """Deploy, handing the long waits (health, traffic steps, bake) to the triggerer where the backend has any.

        A backend whose deploy has no long wait deploys at once (the default).

        :param spec: the EndpointSpec.
        :param owner: the Airflow identity labels.
        :param sink: the task log.
        """
        return self.deploy(spec, owner, sink)

    def check_deploy(self, wait: DeployWait) -> tuple[str, str]:
        """Check a deferred deploy's wait once: (``ok``, ``failed`` or ``waiting``; why or how it goes).

        :param wait: what begin_deploy or resume_deploy returned.
        """
        raise NotImplementedError(f"{type(self).__name__} never defers a deploy, so it has no wait to check")

    def resume_deploy(
        self, wait: DeployWait, event: Mapping[str, Any], owner: Mapping[str, str], sink: LogSink
    ) -> EndpointView | DeployWait:
        """Go on with a deferred deploy after its wait: the next step, the end, or a rollback (raised).

        :param wait: what the task waited for.
        :param event: the trigger's event (``status``: ``ok`` or ``failed``; ``reason``).
        :param owner: the Airflow identity labels.
        :param sink: the task log.
        """
        raise NotImplementedError(f"{type(self).__name__} never defers a deploy, so it has none to resume")

    @abstractmethod
    def activity(self, match_labels: Mapping[str, str]) -> list[EndpointActivity]:
        """Return each endpoint's size, age and last request, as its front (proxy, load balancer) counts them.

        :param match_labels: only endpoints whose resources carry these labels (or tags) too.
        """
