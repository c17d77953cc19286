"""Recognise values that Airflow has not rendered yet, so parse-time checks can wait for them."""

from __future__ import annotations

from typing import Any


def is_template(value: Any) -> bool:
    """Say whether a value is known only at run time: Jinja markup, or an XComArg (checked after rendering).

    :param value: any operator argument; strings, and the strings inside lists and dicts, are inspected.
    """
    if hasattr(value, "iter_references"):  # an XComArg: its value arrives at run time
        return True
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(is_template(k) or is_template(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(is_template(v) for v in value)
    return False
