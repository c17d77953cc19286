"""EC2 endpoints behind the endpoint interface: instances behind a load balancer, updated blue/green."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ml_lifecycle.compute.ec2.deferred_deploy import DeferredDeploy
from ml_lifecycle.compute.ec2.endpoint_activity import Ec2EndpointActivity
from ml_lifecycle.compute.ec2.endpoint_state import EndpointState, state_prefix
from ml_lifecycle.compute.ec2.endpoints import Ec2Endpoints
from ml_lifecycle.compute.endpoint_interface import DeployWait, EndpointBackend, EndpointView, LogSink
from ml_lifecycle.core.ec2.rollout_wait import RolloutWait
from ml_lifecycle.core.endpoint_idleness import EndpointActivity
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.specs import EndpointSpec
from ml_lifecycle.core.uris import ArtifactUri, parse_uri


def view_of(state: EndpointState, prefix: ArtifactUri | None, serving_problem: str = "") -> EndpointView:
    """Return an EC2 endpoint's state as the endpoint interface reports it.

    :param state: the endpoint's state.
    :param prefix: its state prefix, when known.
    :param serving_problem: why its live revision cannot serve now ("" when it serves).
    """
    live = state.live
    details = {"load_balancer_arn": state.load_balancer_arn, "auth": state.reached_by.auth, "region": state.region}
    if prefix is not None:
        details["state_uri"] = str(prefix)
    return EndpointView(
        endpoint_name=state.endpoint_name,
        status=state.status,
        url=state.url,
        revision=live.revision if live else "",
        model_uri=live.model_uri if live else "",
        image_uri=live.image_uri if live else "",
        failure_reason=state.failure_reason,
        serving_problem=serving_problem,
        details=details,
    )


class Ec2EndpointBackend(EndpointBackend):
    """Endpoints on EC2 instances behind an Application Load Balancer; their state lives in S3.

    :param endpoints: the EC2 endpoint manager.
    :param options: the operator's options (state_uri and the rollout policy).
    :param logs: builds the CloudWatch Logs client (the instances ship their containers' logs there).
    :param activity: reads the endpoints' instances and requests (the reaper's idle limit and the page's cost).
    """

    records_data_capture = True  # each host runs the capturing proxy and uploads its files (agent.instance)

    def __init__(
        self,
        endpoints: Ec2Endpoints,
        options: Mapping[str, Any],
        logs: Callable[[], Any],
        activity: Ec2EndpointActivity,
    ) -> None:
        self.manager = endpoints
        self.options = options
        self.logs_client = logs
        self.activity_source = activity

    def _prefix(self) -> ArtifactUri | None:
        """Return the state prefix the state_uri option names, or None (then it is found by the endpoint's tags)."""
        state_uri = self.options.get("state_uri")
        return parse_uri(state_uri, "state_uri") if state_uri else None

    def deploy(self, spec: EndpointSpec, owner: Mapping[str, str], sink: LogSink) -> EndpointView:
        """Create the endpoint, or update it blue/green with the traffic shift asked for; return it InService.

        :param spec: the endpoint spec.
        :param owner: the Airflow identity labels.
        :param sink: the task log.
        """
        from ml_lifecycle.compute.ec2.endpoint_rollout import rollout_policy
        from ml_lifecycle.compute.ec2.launcher import check_registry_login

        check_registry_login(spec.image_uri, self.options.get("registry_conn_id") or None)
        _check_capture_destination(spec)
        prefix = state_prefix(self.options.get("state_uri"), spec.model_uri, spec.endpoint_name)
        state = self.manager.deploy(spec, spec.instance_type, dict(owner), prefix, rollout_policy(self.options), sink)
        return view_of(state, prefix)

    def begin_deploy(self, spec: EndpointSpec, owner: Mapping[str, str], sink: LogSink) -> EndpointView | DeployWait:
        """Launch the new revision and hand its boot to the triggerer (see DeferredDeploy).

        :param spec: the endpoint spec.
        :param owner: the Airflow identity labels.
        :param sink: the task log.
        """
        from ml_lifecycle.compute.ec2.launcher import check_registry_login

        check_registry_login(spec.image_uri, self.options.get("registry_conn_id") or None)
        _check_capture_destination(spec)
        prefix = state_prefix(self.options.get("state_uri"), spec.model_uri, spec.endpoint_name)
        return _deploy_wait(self._deferred().begin(spec, spec.instance_type, dict(owner), prefix, sink))

    def check_deploy(self, wait: DeployWait) -> tuple[str, str]:
        """Check the boot or the traffic step a deferred deploy waits for, once.

        :param wait: what the task waits for.
        """
        return self._deferred().check(RolloutWait.from_dict(dict(wait.progress)))

    def resume_deploy(
        self, wait: DeployWait, event: Mapping[str, Any], owner: Mapping[str, str], sink: LogSink
    ) -> EndpointView | DeployWait:
        """Take the next traffic step, finish, or roll back (raised) after a wait.

        :param wait: what the task waited for.
        :param event: the trigger's event (``status``, ``reason``).
        :param owner: the Airflow identity labels (the same DAG run takes its lease over).
        :param sink: the task log.
        """
        progress = RolloutWait.from_dict(dict(wait.progress))
        status, reason = str(event.get("status", "")), str(event.get("reason", ""))
        after = self._deferred().resume(progress, status, reason, dict(owner), sink)
        if isinstance(after, RolloutWait):
            return _deploy_wait(after)
        return view_of(after, parse_uri(progress.state_uri, "state_uri"))

    def _deferred(self) -> DeferredDeploy:
        """Return the deferred deploy of this backend's endpoints, with the operator's rollout policy."""
        from ml_lifecycle.compute.ec2.endpoint_rollout import rollout_policy

        return DeferredDeploy(self.manager, rollout_policy(self.options))

    def describe(self, endpoint_name: str) -> EndpointView | None:
        """Return the endpoint's state, with why its live revision's targets are unhealthy (when they are).

        :param endpoint_name: the endpoint's name.
        """
        from ml_lifecycle.compute.ec2.endpoint_capture_counts import capture_details

        prefix = self._prefix() or self.manager.locate(endpoint_name)
        state, unhealthy = self.manager.describe(endpoint_name, prefix)
        if state is None:
            return None
        view = view_of(state, prefix, unhealthy or "")
        if prefix is None or state.live is None:
            return view
        counters = capture_details(self.manager.store_for, prefix, state.live.revision)
        return dataclasses.replace(view, details={**view.details, **counters})

    def delete(self, endpoint_name: str, owner: Mapping[str, str], sink: LogSink) -> dict[str, int]:
        """Delete the listener, load balancer, instances, target groups, security groups and state.

        :param endpoint_name: the endpoint's name.
        :param owner: the Airflow identity labels (a deploy of the same DAG run does not block the delete).
        :param sink: the task log.
        """
        return self.manager.delete(endpoint_name, self._prefix(), sink, dict(owner))

    def activity(self, match_labels: Mapping[str, str]) -> list[EndpointActivity]:
        """Return each endpoint's running instances, age and last request (its load balancer's RequestCount).

        :param match_labels: only endpoints whose security groups carry these tags too.
        """
        return self.activity_source.all(match_labels)

    def logs(self, endpoint_name: str) -> dict[str, list[str]]:
        """Return what each instance's serving container logged, from its stream ``<endpoint>/<instance id>``.

        :param endpoint_name: the endpoint's name.
        """
        from botocore.exceptions import ClientError

        from ml_lifecycle.core.ec2.spec_documents import LOG_GROUPS

        client, group, prefix = self.logs_client(), LOG_GROUPS["endpoint"], f"{endpoint_name}/"
        found: dict[str, list[str]] = {}
        try:
            for page in client.get_paginator("describe_log_streams").paginate(
                logGroupName=group, logStreamNamePrefix=prefix
            ):
                for stream in page["logStreams"]:
                    name = str(stream["logStreamName"])
                    found[name[len(prefix) :]] = _stream_lines(client, group, name)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
        return found


def _check_capture_destination(spec: EndpointSpec) -> None:
    """Refuse a data capture destination the instances cannot reach (a folder of this machine) before anything starts.

    :param spec: the endpoint spec.
    """
    if spec.data_capture is not None and not spec.data_capture.destination_uri.startswith("s3://"):
        raise SpecError(
            "data_capture.DestinationS3Uri",
            f"{spec.data_capture.destination_uri} is a folder of this machine, which EC2 instances cannot write to",
            "Give an s3:// destination (the instance role needs s3:PutObject there)",
        )


def _deploy_wait(progress: RolloutWait) -> DeployWait:
    """Return what the triggerer waits for: the rollout's progress, given up a minute after its own end.

    :param progress: where the rollout stands.
    """
    return DeployWait(progress.endpoint_name, progress.describe(), progress.to_dict(), progress.until_epoch_s + 60)


def _stream_lines(client: Any, group: str, stream: str) -> list[str]:
    """Return every message of a log stream, oldest first.

    :param client: the CloudWatch Logs client.
    :param group: the log group.
    :param stream: the stream.
    """
    lines: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = client.get_log_events(**kwargs)
        lines += [str(event["message"]) for event in page["events"]]
        if not page["events"] or page["nextForwardToken"] == token:
            return lines
        token = page["nextForwardToken"]
