"""A job's log as CloudWatch Logs streams (one per host) and GetLogEvents pages: table-tested."""

from __future__ import annotations

import pytest

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.log_events import events_page, parse_stream_name, split_by_host, stream_name

LINES = ["agent: staging", "[algo-1] epoch 1", "[algo-2] epoch 1 on two", "[algo-1] done", "agent: uploaded"]


def test_lines_go_to_their_host_and_the_agents_to_the_first():
    assert split_by_host(LINES) == {
        "algo-1": ["agent: staging", "epoch 1", "done", "agent: uploaded"],
        "algo-2": ["epoch 1 on two"],
    }
    assert split_by_host([]) == {"algo-1": []}
    assert list(split_by_host(["[algo-10] a", "[algo-2] b"])) == ["algo-1", "algo-2", "algo-10"]


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("job-1/algo-1-1765100000", ("job-1", "algo-1")),
        ("job-1/algo-12-1765100000", ("job-1", "algo-12")),
        ("job-1/algo-1", None),
        ("job-1", None),
        ("/algo-1-1", None),
    ],
)
def test_stream_names_round_trip(name, parsed):
    assert parse_stream_name(name) == parsed
    if parsed:
        assert parse_stream_name(stream_name(parsed[0], parsed[1], 1765100000.7)) == parsed


MESSAGES = [f"line {i}" for i in range(5)]


def messages(page):
    return [e["message"] for e in page["events"]]


@pytest.mark.parametrize(
    ("request_", "expected", "forward"),
    [
        ({"startFromHead": True}, MESSAGES, "f/5"),
        ({"startFromHead": True, "limit": 2}, MESSAGES[:2], "f/2"),
        ({"nextToken": "f/2", "limit": 2}, MESSAGES[2:4], "f/4"),
        ({"nextToken": "f/5"}, [], "f/5"),  # nothing new: the same token back, as CloudWatch does
        ({"limit": 2}, MESSAGES[3:], "f/5"),  # from the tail by default
        ({"nextToken": "b/3", "limit": 2}, MESSAGES[1:3], "f/3"),
        ({"startFromHead": True, "startTime": 1001}, [], "f/0"),  # every event carries the job's start
        ({"startFromHead": True, "startTime": 1000}, MESSAGES, "f/5"),
        ({"startFromHead": True, "endTime": 1000}, [], "f/0"),
    ],
)
def test_pages(request_, expected, forward):
    page = events_page(MESSAGES, 1000, request_)
    assert messages(page) == expected
    assert page["nextForwardToken"] == forward
    assert all(e["timestamp"] == 1000 for e in page["events"])


def test_a_token_not_given_here_is_refused():
    with pytest.raises(SpecError, match="nextToken"):
        events_page(MESSAGES, 1000, {"nextToken": "x/1"})
