"""The List* operations' filters, sort and pages, over summaries already built: SageMaker's rules, pure.

``NameContains`` matches case-insensitively; ``StatusEquals`` exactly; ``CreationTimeAfter``/``Before`` and
``LastModifiedTimeAfter``/``Before`` are exclusive bounds in epoch seconds; ``SortBy`` is ``Name``,
``CreationTime`` or ``Status``; ``SortOrder`` ``Ascending`` or ``Descending``; without them a kind's own default
applies (most kinds: CreationTime, Descending; the tuning lists: Name, Ascending, as botocore's model says); a page
holds ``MaxResults`` (default 10, at most 100) and ``NextToken`` is the offset of the next page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.core.errors import SpecError

DEFAULT_PAGE = 10
MAX_PAGE = 100
SORT_KEYS = ("Name", "CreationTime", "Status")


@dataclass(frozen=True)
class SortDefault:
    """The order of a List* answer whose request gives no SortBy or SortOrder.

    :param by: the SortBy default.
    :param order: the SortOrder default.
    """

    by: str = "CreationTime"
    order: str = "Descending"


@dataclass(frozen=True)
class SummaryKeys:
    """Which fields of a kind's summaries the filters read.

    :param name: the name field (``TrainingJobName``).
    :param status: the status field, or "" for kinds without one (models).
    :param modified: the last-modified field, or "" when the summaries have none.
    :param default_sort: the order without SortBy or SortOrder.
    """

    name: str
    status: str = ""
    modified: str = ""
    default_sort: SortDefault = SortDefault()


def select(
    summaries: Sequence[Mapping[str, Any]], request: Mapping[str, Any], keys: SummaryKeys, *, keep_order: bool = False
) -> tuple[list[Mapping[str, Any]], str | None]:
    """Return one page of the summaries a List* request asks for, and the token of the next page (None at the end).

    :param summaries: every summary of the kind.
    :param request: the List* request.
    :param keys: which summary fields the filters read.
    :param keep_order: keep the summaries' order (the caller sorted them by a key of its own) instead of SortBy's.
    """
    chosen = [s for s in summaries if _matches(s, request, keys)]
    if not keep_order:
        _sort(chosen, request, keys)
    size = int(request["MaxResults"]) if request.get("MaxResults") is not None else DEFAULT_PAGE
    if not 1 <= size <= MAX_PAGE:
        raise SpecError("MaxResults", f"{size} is not between 1 and {MAX_PAGE}", "Ask for a smaller page")
    start = _offset(request.get("NextToken"))
    page = chosen[start : start + size]
    return page, str(start + size) if start + size < len(chosen) else None


def _sort(chosen: list[Mapping[str, Any]], request: Mapping[str, Any], keys: SummaryKeys) -> None:
    """Sort summaries in place as the request's SortBy and SortOrder say.

    :param chosen: the summaries.
    :param request: the List* request.
    :param keys: which summary fields the sort keys name.
    """
    sort_by = str(request.get("SortBy") or keys.default_sort.by)
    if sort_by not in SORT_KEYS or (sort_by == "Status" and not keys.status):
        raise SpecError("SortBy", f"{sort_by!r} is not a sort key here", f"Use one of {', '.join(SORT_KEYS)}")
    field = {"Name": keys.name, "CreationTime": "CreationTime", "Status": keys.status}[sort_by]
    descending = str(request.get("SortOrder") or keys.default_sort.order) == "Descending"
    chosen.sort(key=lambda s: (s.get(field) is None, s.get(field) or 0, s[keys.name]), reverse=descending)


def _matches(summary: Mapping[str, Any], request: Mapping[str, Any], keys: SummaryKeys) -> bool:
    """Say whether a summary passes the request's filters.

    :param summary: one summary.
    :param request: the List* request.
    :param keys: which summary fields the filters read.
    """
    contains = request.get("NameContains")
    if contains and str(contains).lower() not in str(summary[keys.name]).lower():
        return False
    status = request.get("StatusEquals")
    if status and keys.status and summary.get(keys.status) != status:
        return False
    bounds = (("CreationTime", "CreationTime"), ("LastModifiedTime", keys.modified))
    for name, field in bounds:
        value = summary.get(field) if field else None
        after, before = request.get(f"{name}After"), request.get(f"{name}Before")
        if after is not None and (value is None or value <= float(after)):
            return False
        if before is not None and (value is None or value >= float(before)):
            return False
    return True


def _offset(token: Any) -> int:
    """Return the offset a NextToken names.

    :param token: the request's NextToken, or None.
    """
    if token in (None, ""):
        return 0
    if not str(token).isdigit():
        raise SpecError("NextToken", f"{token!r} is not a token this API gave", "Pass the NextToken of the last page")
    return int(token)
