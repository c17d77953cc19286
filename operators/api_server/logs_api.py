"""The CloudWatch Logs operations SageMaker's clients read job logs with (the Amazon provider's ``print_log``, the
SDK's ``logs=True``): DescribeLogStreams and GetLogEvents on ``/aws/sagemaker/TrainingJobs`` and
``/aws/sagemaker/TransformJobs``, backed by the jobs' own logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_lifecycle.api_server.errors import ApiError
from ml_lifecycle.api_server.jobs import JobApi
from ml_lifecycle.core.sagemaker_api import log_events

ENDPOINT_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"


def _not_found(what: str) -> ApiError:
    """Return CloudWatch Logs' error for a group or stream that does not exist.

    :param what: which one.
    """
    return ApiError("ResourceNotFoundException", f"The specified log {what} does not exist.")


class LogsApi:
    """The Logs operations over the jobs the API runs.

    :param jobs: the job kinds' operations, by kind (``training``, ``transform``).
    """

    def __init__(self, jobs: Mapping[str, JobApi]) -> None:
        self.jobs = jobs

    def _job_api(self, request: Mapping[str, Any]) -> JobApi:
        """Return the job operations of the request's log group.

        :param request: the request (its logGroupName).
        """
        kind = log_events.GROUPS.get(str(request.get("logGroupName")))
        if kind is None:
            raise _not_found("group")
        return self.jobs[kind]

    def describe_log_streams(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """List the streams of the jobs whose names start with the prefix (one per host).

        :param request: the DescribeLogStreams request.
        """
        api = self._job_api(request)
        prefix = str(request.get("logStreamNamePrefix") or "")
        job = prefix.split("/", 1)[0]
        names = [job] if job else api.state.names(api.kind.state_kind)
        streams = []
        for name in names:
            found = api.log_lines(name)
            if found is None:
                continue
            lines, started_s = found
            at_ms = int(started_s * 1000)
            for host, messages in log_events.split_by_host(lines).items():
                stream = log_events.stream_name(name, host, started_s)
                if stream.startswith(prefix):
                    stream_info: dict[str, Any] = {"logStreamName": stream, "creationTime": at_ms}
                    if messages:
                        stream_info.update(firstEventTimestamp=at_ms, lastEventTimestamp=at_ms, lastIngestionTime=at_ms)
                    streams.append(stream_info)
        streams.sort(key=lambda s: s["logStreamName"], reverse=bool(request.get("descending")))
        return {"logStreams": streams[: int(request.get("limit") or 50)]}

    def put_retention_policy(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Accept a retention for a SageMaker log group; it changes nothing (a job's log lives as long as its state).

        :param request: the PutRetentionPolicy request.
        """
        group = str(request.get("logGroupName"))
        if group not in log_events.GROUPS and not group.startswith(ENDPOINT_GROUP_PREFIX):
            raise _not_found("group")
        return {}

    def get_log_events(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Return a page of one stream's events.

        :param request: the GetLogEvents request.
        """
        api = self._job_api(request)
        parsed = log_events.parse_stream_name(str(request.get("logStreamName")))
        found = api.log_lines(parsed[0]) if parsed else None
        if parsed is None or found is None:
            raise _not_found("stream")
        lines, started_s = found
        messages = log_events.split_by_host(lines).get(parsed[1])
        if messages is None:
            raise _not_found("stream")
        return log_events.events_page(messages, int(started_s * 1000), request)
