"""List* filters, sort and pages, as SageMaker applies them: table-tested."""

from __future__ import annotations

import pytest

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.sagemaker_api.listing import SortDefault, SummaryKeys, select

KEYS = SummaryKeys("TrainingJobName", "TrainingJobStatus", "LastModifiedTime")
JOBS = [
    {"TrainingJobName": "alpha-1", "TrainingJobStatus": "Completed", "CreationTime": 10.0, "LastModifiedTime": 20.0},
    {"TrainingJobName": "beta-2", "TrainingJobStatus": "Failed", "CreationTime": 30.0, "LastModifiedTime": 31.0},
    {"TrainingJobName": "Alpha-3", "TrainingJobStatus": "InProgress", "CreationTime": 20.0},
]


def names(request):
    page, _ = select(JOBS, request, KEYS)
    return [s["TrainingJobName"] for s in page]


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({}, ["beta-2", "Alpha-3", "alpha-1"]),  # newest first by default
        ({"SortOrder": "Ascending"}, ["alpha-1", "Alpha-3", "beta-2"]),
        ({"SortBy": "Name", "SortOrder": "Ascending"}, ["Alpha-3", "alpha-1", "beta-2"]),
        ({"SortBy": "Status", "SortOrder": "Ascending"}, ["alpha-1", "beta-2", "Alpha-3"]),
        ({"NameContains": "ALPHA"}, ["Alpha-3", "alpha-1"]),  # case-insensitive
        ({"StatusEquals": "Failed"}, ["beta-2"]),
        ({"CreationTimeAfter": 10}, ["beta-2", "Alpha-3"]),  # bounds are exclusive
        ({"CreationTimeBefore": 30}, ["Alpha-3", "alpha-1"]),
        ({"LastModifiedTimeAfter": 25}, ["beta-2"]),  # a summary without the field never passes its bound
        ({"MaxResults": 2}, ["beta-2", "Alpha-3"]),
        ({"MaxResults": 2, "NextToken": "2"}, ["alpha-1"]),
    ],
)
def test_filters_sort_and_pages(request_, expected):
    assert names(request_) == expected


def test_the_next_token_is_given_until_the_last_page():
    assert select(JOBS, {"MaxResults": 2}, KEYS)[1] == "2"
    assert select(JOBS, {"MaxResults": 2, "NextToken": "2"}, KEYS)[1] is None
    assert select(JOBS, {"MaxResults": 3}, KEYS)[1] is None


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"SortBy": "Size"}, "SortBy"),
        ({"MaxResults": 0}, "MaxResults"),
        ({"MaxResults": 101}, "MaxResults"),
        ({"NextToken": "abc"}, "NextToken"),
    ],
)
def test_bad_requests_name_their_field(request_, field):
    with pytest.raises(SpecError, match=field):
        select(JOBS, request_, KEYS)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({}, ["Alpha-3", "alpha-1", "beta-2"]),  # the tuning lists: by name, ascending, as botocore's model says
        ({"SortOrder": "Descending"}, ["beta-2", "alpha-1", "Alpha-3"]),
        ({"SortBy": "CreationTime"}, ["alpha-1", "Alpha-3", "beta-2"]),
    ],
)
def test_a_kind_with_its_own_default_order_sorts_by_it_when_the_request_names_none(request_, expected):
    keys = SummaryKeys("TrainingJobName", "TrainingJobStatus", default_sort=SortDefault("Name", "Ascending"))
    page, _ = select(JOBS, request_, keys)
    assert [s["TrainingJobName"] for s in page] == expected


def test_a_kind_without_status_cannot_be_sorted_by_it():
    with pytest.raises(SpecError, match="SortBy"):
        select([{"ModelName": "m", "CreationTime": 1.0}], {"SortBy": "Status"}, SummaryKeys("ModelName"))
