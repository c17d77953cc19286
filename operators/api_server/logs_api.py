"""The CloudWatch Logs operations SageMaker's clients read logs with (the Amazon provider's ``print_log``, the SDK's
``logs=True``): DescribeLogStreams and GetLogEvents on ``/aws/sagemaker/TrainingJobs``, ``/aws/sagemaker/TransformJobs``
(a stream per host) and ``/aws/sagemaker/Endpoints/<name>`` (a stream per serving container or instance), backed by
the jobs' and endpoints' own logs; PutRetentionPolicy on them is accepted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_lifecycle.api_server.endpoints import EndpointApi
from ml_lifecycle.api_server.errors import ApiError
from ml_lifecycle.api_server.jobs import JobApi
from ml_lifecycle.api_server.names import NAME
from ml_lifecycle.core.sagemaker_api import log_events

ENDPOINT_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
# stream name -> (its messages, the time its events carry in milliseconds)
Streams = dict[str, tuple[list[str], int]]


def _not_found(what: str) -> ApiError:
    """Return CloudWatch Logs' error for a group or stream that does not exist.

    :param what: which one.
    """
    return ApiError("ResourceNotFoundException", f"The specified log {what} does not exist.")


class LogsApi:
    """The Logs operations over the jobs and endpoints the API runs.

    :param jobs: the job kinds' operations, by kind (``training``, ``transform``).
    :param endpoints: the endpoint operations.
    """

    def __init__(self, jobs: Mapping[str, JobApi], endpoints: EndpointApi) -> None:
        self.jobs, self.endpoints = jobs, endpoints

    def _streams(self, group: str, prefix: str) -> Streams:
        """Return the streams of a group whose names start with prefix.

        :param group: the log group.
        :param prefix: the stream name prefix.
        """
        if group.startswith(ENDPOINT_GROUP_PREFIX):
            endpoint = group[len(ENDPOINT_GROUP_PREFIX) :]
            found = self.endpoints.log_streams(endpoint) if NAME.match(endpoint) and len(endpoint) <= 63 else None
            if found is None:
                raise _not_found("group")
            by_stream, created_s = found
            return {n: (lines, int(created_s * 1000)) for n, lines in by_stream.items() if n.startswith(prefix)}
        kind = log_events.GROUPS.get(group)
        if kind is None:
            raise _not_found("group")
        api = self.jobs[kind]
        job = prefix.split("/", 1)[0]
        streams: Streams = {}
        chosen = (
            [job] if "/" in prefix else [n for n in api.state.names(api.kind.state_kind) if n.startswith(job.lower())]
        )
        for name in chosen if NAME.match(job) or not job else []:
            job_log = api.log_lines(name)
            if job_log is None:
                continue
            original, lines, started_s = job_log
            for host, messages in log_events.split_by_host(lines).items():
                stream = log_events.stream_name(original, host, started_s)
                if stream.startswith(prefix):
                    streams[stream] = (messages, int(started_s * 1000))
        return streams

    def describe_log_streams(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """List a group's streams, by name prefix.

        :param request: the DescribeLogStreams request.
        """
        streams = []
        for name, (messages, at_ms) in self._streams(
            str(request.get("logGroupName")), str(request.get("logStreamNamePrefix") or "")
        ).items():
            stream: dict[str, Any] = {"logStreamName": name, "creationTime": at_ms}
            if messages:
                stream.update(firstEventTimestamp=at_ms, lastEventTimestamp=at_ms, lastIngestionTime=at_ms)
            streams.append(stream)
        streams.sort(key=lambda s: s["logStreamName"], reverse=bool(request.get("descending")))
        return {"logStreams": streams[: int(request.get("limit") or 50)]}

    def get_log_events(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Return a page of one stream's events.

        :param request: the GetLogEvents request.
        """
        name = str(request.get("logStreamName"))
        group = str(request.get("logGroupName"))
        if not group.startswith(ENDPOINT_GROUP_PREFIX) and log_events.parse_stream_name(name) is None:
            raise _not_found("stream")
        found = self._streams(group, name).get(name)
        if found is None:
            raise _not_found("stream")
        messages, at_ms = found
        return log_events.events_page(messages, at_ms, request)

    def put_retention_policy(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Accept a retention for a SageMaker log group; it changes nothing (the logs live as long as what wrote them).

        :param request: the PutRetentionPolicy request.
        """
        group = str(request.get("logGroupName"))
        if group not in log_events.GROUPS and not group.startswith(ENDPOINT_GROUP_PREFIX):
            raise _not_found("group")
        return {}
