"""The state of an EC2 endpoint, kept as JSON in S3: its load balancer, listener, security groups and revisions."""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core import labels
from ml_lifecycle.core.clock import utc_now_iso
from ml_lifecycle.core.ec2.endpoint_access import EndpointAccess
from ml_lifecycle.core.status import EndpointStatus
from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import ArtifactNotFound, SpecError

STATE_NAME = "state.json"
REVISION_FORMAT = "%Y%m%d%H%M%S"
STATE_PREFIX = "ml-lifecycle/endpoints"
CREATING, IN_SERVICE, UPDATING, FAILED, DELETING = (
    EndpointStatus.CREATING,
    EndpointStatus.IN_SERVICE,
    EndpointStatus.UPDATING,
    EndpointStatus.FAILED,
    EndpointStatus.DELETING,
)
MAX_HISTORY = 20
MAX_RETIRED = 200


@dataclass
class Revision:
    """One revision of an endpoint: its instances behind one target group.

    :param revision: the revision id (``YYYYmmddHHMMSS``).
    :param job_name: the name its instances are tagged with (``<endpoint>-<revision>``).
    :param target_group_arn: its target group.
    :param instance_ids: its instances.
    :param weight: its share of the listener's requests, 0-100.
    :param model_uri: the model it serves.
    :param image_uri: the serving image.
    :param instance_count: how many instances it started with.
    :param created_at: when it was launched (ISO 8601).
    :param group_name: its Auto Scaling group and launch template (empty for a revision launched before groups; then
        instance_ids are its instances, else the instances it started with).
    :param min_instances: the fewest instances its group keeps.
    :param max_instances: the most instances its group scales to.
    :param target_invocations_per_instance: the requests per instance per minute its group scales at, or None.
    :param idle_delete_after_h: the idle limit its deploy asked for, or None (opted out); the serving revision's holds.
    :param instance_type: its instances' type ("" in a state written before it was kept: the owner's label then).
    """

    revision: str
    job_name: str
    target_group_arn: str = ""
    instance_ids: list[str] = field(default_factory=list)
    weight: int = 0
    model_uri: str = ""
    image_uri: str = ""
    instance_count: int = 1
    created_at: str = ""
    group_name: str = ""
    min_instances: int = 0
    max_instances: int = 0
    target_invocations_per_instance: int | None = None
    idle_delete_after_h: float | None = None
    instance_type: str = ""


def idle_limit_h(owner: Mapping[str, str]) -> float | None:
    """Return the idle limit a deploy's labels carry, or None when it set none.

    :param owner: the deploy's labels (labels.endpoint_labels among them).
    """
    limit = owner.get(labels.IDLE_DELETE_AFTER_H)
    return float(limit) if limit else None


@dataclass
class EndpointState:
    """Everything needed to update, watch and delete one EC2 endpoint.

    :param endpoint_name: the endpoint's name.
    :param status: Creating, InService, Updating, Failed or Deleting.
    :param region: the AWS region.
    :param load_balancer_arn: the Application Load Balancer.
    :param listener_arn: its HTTP listener.
    :param dns_name: the load balancer's DNS name.
    :param vpc_id: the VPC of the load balancer and instances.
    :param alb_security_group_id: the load balancer's security group.
    :param instance_security_group_id: the instances' group (admits the load balancer's group on 8080 only).
    :param link_security_group_id: the API Gateway VPC link's group (auth="iam"), or empty.
    :param access: who may reach the endpoint and how (EndpointAccess.to_dict); None in a state written before it was
        recorded, which means the old default (EndpointAccess.LEGACY).
    :param api_id: the API Gateway HTTP API in front (auth="iam"), or empty.
    :param api_endpoint: its ``https://...execute-api...`` address, or empty.
    :param vpc_link_id: its VPC link to the load balancer, or empty.
    :param live: the revision serving requests, or None.
    :param pending: the revision being rolled out (an update in progress), or None.
    :param failure_reason: why the last deploy failed or was rolled back, or empty.
    :param history: the last deploys' outcomes (revision, outcome, reason, at).
    :param owner: the Airflow identity that created the endpoint.
    :param retired: the revisions it ended (retired or rolled back), for its running cost: revision, instance_type,
        instance_count (as launched), started_at, ended_at; the last MAX_RETIRED.
    :param updated_at: when this state was written (ISO 8601).
    """

    endpoint_name: str
    status: str
    region: str
    load_balancer_arn: str = ""
    listener_arn: str = ""
    dns_name: str = ""
    vpc_id: str = ""
    alb_security_group_id: str = ""
    instance_security_group_id: str = ""
    link_security_group_id: str = ""
    access: dict[str, Any] | None = None
    api_id: str = ""
    api_endpoint: str = ""
    vpc_link_id: str = ""
    live: Revision | None = None
    pending: Revision | None = None
    failure_reason: str = ""
    history: list[dict[str, str]] = field(default_factory=list)
    owner: dict[str, str] = field(default_factory=dict)
    retired: list[dict[str, Any]] = field(default_factory=list)
    updated_at: str = ""

    @property
    def reached_by(self) -> EndpointAccess:
        """Who may reach the endpoint and how (the old default for a state that does not record it)."""
        return EndpointAccess.from_dict(self.access)

    @property
    def url(self) -> str:
        """The endpoint's base URL: its IAM-authenticated API, else ``http(s)://<load balancer DNS name>``, or empty."""
        if self.api_endpoint:
            return self.api_endpoint
        return f"{self.reached_by.listener_protocol.lower()}://{self.dns_name}" if self.dns_name else ""

    def note(self, revision: str, outcome: str, reason: str = "") -> None:
        """Append a deploy's outcome to the history (the last MAX_HISTORY are kept).

        :param revision: the revision.
        :param outcome: ``created``, ``updated``, ``rolled_back`` or ``failed``.
        :param reason: why, for a rollback or failure.
        """
        self.history = [
            *self.history,
            {"revision": revision, "outcome": outcome, "reason": reason, "at": utc_now_iso()},
        ][-MAX_HISTORY:]

    def retire(self, revision: Revision) -> None:
        """Note that a revision's instances are ended, with what the running cost needs of it.

        :param revision: the revision (retired after an update, or rolled back).
        """
        entry = {
            "revision": revision.revision,
            "instance_type": revision.instance_type or self.owner.get(labels.INSTANCE_TYPE, ""),
            "instance_count": revision.instance_count,
            "started_at": revision.created_at,
            "ended_at": utc_now_iso(),
        }
        self.retired = [*self.retired, entry][-MAX_RETIRED:]

    def to_dict(self) -> dict[str, Any]:
        """Return the state as JSON-safe data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EndpointState:
        """Read a state written by to_dict.

        :param data: the parsed state.json.
        """
        values = dict(data)
        for key in ("live", "pending"):
            found = values.get(key)
            if found and "idle_delete_after_h" not in found:  # written before revisions kept it: the creation's limit
                found = {**found, "idle_delete_after_h": idle_limit_h(values.get("owner") or {})}
            values[key] = Revision(**found) if found else None
        try:
            return cls(**values)
        except TypeError as err:
            raise SpecError("endpoint state", str(err), "Write it with EndpointState.to_dict") from err


def newest_revision(state: EndpointState | None) -> str | None:
    """Return the newest revision id an endpoint's state names (serving, pending, or in its history), if any.

    :param state: the endpoint's state, or None for a new endpoint.
    """
    if state is None:
        return None
    named = [r.revision for r in (state.live, state.pending) if r is not None]
    named += [str(h["revision"]) for h in state.history if h.get("revision")]
    return max(named, default=None)


def new_revision_id(after: str | None = None, now_epoch_s: float | None = None) -> str:
    """Return a revision id: the UTC time to the second, later than the endpoint's newest revision (a deploy in the
    same second as the last one takes the next second: revisions name the endpoint's target groups and instances).

    :param after: the endpoint's newest revision id, if it has one.
    :param now_epoch_s: the time; now by default.
    """
    second = int(time.time() if now_epoch_s is None else now_epoch_s)
    if after:
        second = max(second, calendar.timegm(time.strptime(after, REVISION_FORMAT)) + 1)
    return time.strftime(REVISION_FORMAT, time.gmtime(second))


def default_state_prefix(model_uri: str, endpoint_name: str) -> ArtifactUri:
    """Return where an endpoint keeps its state by default: ``s3://<model bucket>/ml-lifecycle/endpoints/<name>/``.

    :param model_uri: the model's ``s3://`` URI.
    :param endpoint_name: the endpoint's name.
    """
    model = parse_uri(model_uri, "model_uri")
    if model.scheme != "s3":
        raise SpecError("model_uri", f"{model_uri!r} is not in S3", "EC2 endpoints read their model from s3://")
    return ArtifactUri("s3", model.bucket, "").join(STATE_PREFIX, endpoint_name)


def state_prefix(state_uri: str | None, model_uri: str, endpoint_name: str) -> ArtifactUri:
    """Return the endpoint's state prefix: the one given, else the default under the model's bucket.

    :param state_uri: an ``s3://`` prefix for the endpoint's state and staging, or None.
    :param model_uri: the model's URI.
    :param endpoint_name: the endpoint's name.
    """
    if not state_uri:
        return default_state_prefix(model_uri, endpoint_name)
    prefix = parse_uri(state_uri, "state_uri")
    if prefix.scheme != "s3":
        raise SpecError("state_uri", f"{state_uri!r} is not an s3:// prefix", "Write e.g. s3://bucket/endpoints/x")
    return prefix


class StateStore:
    """Reads and writes one endpoint's state.json below its prefix.

    :param store_for: returns the store for a URI.
    :param prefix: the endpoint's state prefix.
    """

    def __init__(self, store_for: StoreFor, prefix: ArtifactUri) -> None:
        self.store_for = store_for
        self.prefix = prefix
        self.uri = prefix.join(STATE_NAME)

    def read(self) -> EndpointState | None:
        """Return the state, or None when the endpoint has none."""
        try:
            return EndpointState.from_dict(json.loads(self.store_for(self.uri).read_bytes(self.uri)))
        except ArtifactNotFound:
            return None

    def write(self, state: EndpointState) -> None:
        """Write the state (stamped with the time).

        :param state: the endpoint's state.
        """
        state.updated_at = utc_now_iso()
        self.store_for(self.uri).write_bytes(self.uri, json.dumps(state.to_dict(), indent=1, sort_keys=True).encode())

    def delete(self) -> None:
        """Delete the state and everything staged below the prefix."""
        self.store_for(self.prefix).delete_prefix(self.prefix)
