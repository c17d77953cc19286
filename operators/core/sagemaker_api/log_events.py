"""CloudWatch Logs' view of a job's log, as SageMaker writes it: one stream per host (``<job>/algo-1-<epoch s>``)
in ``/aws/sagemaker/TrainingJobs`` or ``TransformJobs``, read with DescribeLogStreams and GetLogEvents. Pure.

A job's log here is the agent's: container lines carry their host (``[algo-2] ...``); the agent's own lines go
to the first host's stream. The log keeps no time per line, so every event carries the time the job started;
GetLogEvents' tokens are positions in the stream (``f/<n>``), stable while the log grows, and a read with
nothing new returns the token it was given, as CloudWatch does (clients stop there).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ml_lifecycle.core.errors import SpecError

GROUPS = {
    "/aws/sagemaker/TrainingJobs": "training",
    "/aws/sagemaker/TransformJobs": "transform",
    "/aws/sagemaker/ProcessingJobs": "processing",
}
FIRST_HOST = "algo-1"
DEFAULT_LIMIT = 10000
_HOST_LINE = re.compile(r"^\[(?P<host>algo-\d+)\] ?(?P<message>.*)$")


def split_by_host(lines: Sequence[str]) -> dict[str, list[str]]:
    """Return each host's lines, prefixes removed; lines of no host go to the first host's.

    :param lines: the job's log lines, in order.
    """
    streams: dict[str, list[str]] = {FIRST_HOST: []}
    for line in lines:
        match = _HOST_LINE.match(line)
        host, message = (match["host"], match["message"]) if match else (FIRST_HOST, line)
        streams.setdefault(host, []).append(message)
    return dict(sorted(streams.items(), key=lambda item: int(item[0].split("-")[1])))


def stream_name(job_name: str, host: str, started_epoch_s: float) -> str:
    """Return a host's stream name, as SageMaker names training streams.

    :param job_name: the job's name.
    :param host: the host (``algo-1``).
    :param started_epoch_s: when the job started.
    """
    return f"{job_name}/{host}-{int(started_epoch_s)}"


def parse_stream_name(name: str) -> tuple[str, str] | None:
    """Return (job name, host) of a stream name, or None when it is not one of ours.

    :param name: the stream name.
    """
    job, _, rest = name.partition("/")
    match = re.fullmatch(r"(algo-\d+)-\d+", rest)
    return (job, match.group(1)) if job and match else None


def events_page(messages: Sequence[str], timestamp_ms: int, request: Mapping[str, Any]) -> dict[str, Any]:
    """Return GetLogEvents' response for one stream's messages.

    :param messages: the stream's messages, in order.
    :param timestamp_ms: the time every event carries (the job's start, in milliseconds).
    :param request: the GetLogEvents request (startTime, endTime, nextToken, startFromHead, limit).
    """
    limit = int(request.get("limit") or DEFAULT_LIMIT)
    start_ms, end_ms = request.get("startTime"), request.get("endTime")
    in_window = (start_ms is None or timestamp_ms >= int(start_ms)) and (end_ms is None or timestamp_ms < int(end_ms))
    total = len(messages) if in_window else 0
    token = request.get("nextToken")
    if token:
        direction, position = _token(str(token), total)
    else:
        direction, position = ("f", 0) if request.get("startFromHead") else ("b", total)
    if direction == "f":
        first, last = position, min(position + limit, total)
    else:
        first, last = max(position - limit, 0), position
    events = [
        {"timestamp": timestamp_ms, "message": messages[i], "ingestionTime": timestamp_ms} for i in range(first, last)
    ]
    return {"events": events, "nextForwardToken": f"f/{last}", "nextBackwardToken": f"b/{first}"}


def _token(token: str, total: int) -> tuple[str, int]:
    """Return (direction, position) of a token this API gave.

    :param token: ``f/<n>`` or ``b/<n>``.
    :param total: the stream's event count.
    """
    direction, _, position = token.partition("/")
    if direction not in ("f", "b") or not position.isdigit():
        raise SpecError("nextToken", f"{token!r} is not a token this API gave", "Pass the token of the last page")
    return direction, min(int(position), total)
