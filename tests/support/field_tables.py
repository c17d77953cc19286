"""Check a translation's field table against botocore's input shape of its operation: every field has a rule (or a
rule for an ancestor or descendants), and no rule names a field the shape lacks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import botocore.session

from ml_lifecycle.core.sagemaker_api.fields import FieldRule, rules_table


def field_paths(shape: Any, prefix: str = "", depth: int = 0, max_depth: int = 4) -> list[str]:
    """List the field paths of a botocore shape, as the tables write them (lists of structures as ``[]``).

    :param shape: a botocore shape.
    :param prefix: the path so far.
    :param depth: how deep this call is.
    :param max_depth: how deep to go (the tables stop where a whole value is taken).
    """
    paths = []
    for name, member in shape.members.items():
        path = f"{prefix}.{name}" if prefix else name
        paths.append(path)
        if member.type_name == "structure" and depth < max_depth:
            paths += field_paths(member, path, depth + 1, max_depth)
        elif member.type_name == "list" and member.member.type_name == "structure" and depth < max_depth:
            paths += field_paths(member.member, path + "[]", depth + 1, max_depth)
    return paths


def unruled_and_foreign(operation: str, rules: Sequence[FieldRule], max_depth: int = 4) -> tuple[list[str], list[str]]:
    """Return the operation's fields no rule covers, and the rules' paths its input shape does not have.

    :param operation: e.g. ``CreateProcessingJob``.
    :param rules: its translation's field table.
    :param max_depth: how deep the shape is walked.
    """
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model(operation).input_shape
    ruled = {path for path, _ in rules_table(rules)}
    shaped = field_paths(shape, max_depth=max_depth)
    unruled = []
    for path in shaped:
        parts = path.split(".")
        ancestors = {".".join(parts[:i]).removesuffix("[]") for i in range(1, len(parts) + 1)}
        descendants = {p for p in ruled if p.startswith((path + ".", path + "[]."))}
        if not (ancestors & ruled or descendants):
            unruled.append(path)
    return sorted(unruled), sorted(ruled - set(shaped))
