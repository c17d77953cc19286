"""is_template: Jinja markup and XComArgs (anything with iter_references) wait for execute()."""

from __future__ import annotations

from typing import Any

import pytest

from ml_lifecycle.core.templating import is_template


class FakeXComArg:
    """Stands in for airflow's XComArg: only the attribute is_template looks for."""

    def iter_references(self) -> list[Any]:
        """Return no references."""
        return []


class PlainObject:
    """An object without iter_references."""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("{{ ds }}", True, id="jinja-expression"),
        pytest.param("s3://bucket/{{ ds_nodash }}/train", True, id="jinja-inside-uri"),
        pytest.param("{% if params.x %}a{% endif %}", True, id="jinja-statement"),
        pytest.param("plain text", False, id="plain-string"),
        pytest.param("{ single } braces", False, id="single-braces"),
        pytest.param("", False, id="empty-string"),
        pytest.param(["a", "{{ x }}"], True, id="list-with-template"),
        pytest.param(["a", "b"], False, id="list-without-template"),
        pytest.param(("a", "{{ x }}"), True, id="tuple-with-template"),
        pytest.param({"k": "{{ v }}"}, True, id="dict-template-value"),
        pytest.param({"{{ k }}": "v"}, True, id="dict-template-key"),
        pytest.param({"k": "v", "n": 1}, False, id="dict-without-template"),
        pytest.param({"a": ["b", {"c": "{{ d }}"}]}, True, id="nested-dict-list-dict"),
        pytest.param([[["{{ deep }}"]]], True, id="nested-lists"),
        pytest.param({"a": [1, 2, {"b": None}]}, False, id="nested-without-template"),
        pytest.param(FakeXComArg(), True, id="object-with-iter_references"),
        pytest.param([FakeXComArg()], True, id="list-holding-xcomarg"),
        pytest.param({"x": FakeXComArg()}, True, id="dict-holding-xcomarg"),
        pytest.param(PlainObject(), False, id="plain-object"),
        pytest.param(42, False, id="int"),
        pytest.param(None, False, id="none"),
    ],
)
def test_is_template(value: Any, expected: bool) -> None:
    assert is_template(value) is expected
