"""Stream a job's CloudWatch Logs streams (``<job>/algo-N``) into the Airflow task log, each line once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

TRAINING_LOG_GROUP = "/aws/ml-lifecycle/TrainingJobs"


class CloudWatchFollower:
    """Remembers how far each of a job's log streams has been read, so every poll shows only new lines."""

    def __init__(self, logs: Callable[[], Any], job_name: str, group: str = TRAINING_LOG_GROUP) -> None:
        """Hold the client and the streams' place.

        :param logs: builds the CloudWatch Logs client.
        :param job_name: the job's name (its streams are ``<job>/<host>``).
        :param group: the log group.
        """
        self.logs = logs
        self.job_name = job_name
        self.group = group
        self._tokens: dict[str, str] = {}
        self.lines_seen = 0

    def poll(self, sink: Callable[[str], None]) -> int:
        """Send the lines written since the last poll to sink and return how many there were.

        :param sink: the task log.
        """
        from botocore.exceptions import ClientError

        shown = 0
        try:
            for stream in self._streams():
                shown += self._read(stream, sink)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code != "ResourceNotFoundException":  # the agent has not created the group or stream yet
                log.warning("Could not read CloudWatch Logs group %s: %s", self.group, err)
        self.lines_seen += shown
        return shown

    def _streams(self) -> list[str]:
        """Return the names of the job's streams."""
        names: list[str] = []
        paginator = self.logs().get_paginator("describe_log_streams")
        for page in paginator.paginate(logGroupName=self.group, logStreamNamePrefix=f"{self.job_name}/"):
            names.extend(str(s["logStreamName"]) for s in page["logStreams"])
        return sorted(names)

    def _read(self, stream: str, sink: Callable[[str], None]) -> int:
        """Send one stream's new events to sink; return how many.

        :param stream: the stream's name.
        :param sink: the task log.
        """
        host = stream.rsplit("/", 1)[-1]
        shown = 0
        while True:
            kwargs: dict[str, Any] = {"logGroupName": self.group, "logStreamName": stream, "startFromHead": True}
            if stream in self._tokens:
                kwargs["nextToken"] = self._tokens[stream]
            page = self.logs().get_log_events(**kwargs)
            for event in page["events"]:
                message = str(event["message"]).rstrip("\n")
                sink(message if message.startswith(f"[{host}]") else f"[{host}] {message}")
                shown += 1
            token = page.get("nextForwardToken")
            if not token or token == self._tokens.get(stream):
                break
            self._tokens[stream] = token
            if not page["events"]:
                break
        return shown
