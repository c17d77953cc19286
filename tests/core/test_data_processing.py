"""DataProcessing: the rules checked when a DAG is parsed, input filtering, joins and output filters per record."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ml_lifecycle.core.data_processing import DataProcessing, build_data_processing
from ml_lifecycle.core.record_errors import DataProcessingError
from ml_lifecycle.errors import SpecError

CSV = "text/csv"
JSON = "application/json"
JSONL = "application/jsonlines"
BASE: dict[str, Any] = dict(
    input_filter=None,
    output_filter=None,
    join_source="None",
    content_type=CSV,
    accept=None,
    split_type="Line",
    assemble_with="Line",
)


def build(**overrides: Any) -> DataProcessing:
    """Build settings that must be valid and active."""
    processing = build_data_processing(**{**BASE, **overrides})
    assert processing is not None
    return processing


# --- rules -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="all-defaults"),
        pytest.param({"input_filter": "$", "output_filter": "", "content_type": "image/png"}, id="root-paths"),
        pytest.param({"split_type": "RecordIO", "content_type": None}, id="binary-without-processing"),
    ],
)
def test_nothing_to_do_is_none(overrides: dict[str, Any]) -> None:
    assert build_data_processing(**{**BASE, **overrides}) is None


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"input_filter": "$[1:]"}, id="csv-input-filter"),
        pytest.param({"join_source": "Input", "accept": CSV}, id="csv-join"),
        pytest.param({"join_source": "Input", "accept": "text/csv; charset=utf-8"}, id="accept-with-parameters"),
        pytest.param({"output_filter": "$[0,-1]", "join_source": "Input", "accept": CSV}, id="csv-join-filter"),
        pytest.param({"content_type": JSON, "input_filter": "$.features", "split_type": "None"}, id="json-whole"),
        pytest.param({"content_type": JSONL, "accept": JSONL, "join_source": "Input"}, id="jsonlines-join"),
        pytest.param({"content_type": JSON, "accept": CSV, "output_filter": "$[0]"}, id="csv-answers-to-json"),
        pytest.param({"content_type": CSV, "accept": JSON, "output_filter": "$.p"}, id="json-answers-to-csv"),
        pytest.param({"input_filter": "$[1:]", "split_type": "None"}, id="csv-filter-whole-object"),
    ],
)
def test_accepted(overrides: dict[str, Any]) -> None:
    assert build_data_processing(**{**BASE, **overrides}) is not None


@pytest.mark.parametrize(
    ("overrides", "parameter", "problem"),
    [
        pytest.param({"input_filter": "$..x"}, "input_filter", "recursive descent", id="bad-input-path"),
        pytest.param({"output_filter": "$[0:1,3:]"}, "output_filter", "one range", id="bad-output-path"),
        pytest.param({"join_source": "Output"}, "join_source", "'Output' is not allowed", id="join-source"),
        pytest.param({"input_filter": "$[1:]", "content_type": "image/png"}, "content_type", "cannot be filtered"),
        pytest.param({"input_filter": "$[1:]", "content_type": None}, "content_type", "no media type"),
        pytest.param({"output_filter": "$[0]", "accept": "application/x-npy"}, "accept", "cannot be filtered"),
        pytest.param({"join_source": "Input", "accept": JSON}, "accept", "equal to content_type", id="join-accept"),
        pytest.param(
            {"join_source": "Input", "accept": CSV, "split_type": "None"},
            "split_type",
            "joining CSV needs",
            id="csv-none",
        ),
        pytest.param(
            {"join_source": "Input", "accept": CSV, "assemble_with": "None"},
            "assemble_with",
            "joining CSV needs",
            id="csv-assemble-none",
        ),
        pytest.param({"input_filter": "$[1:]", "split_type": "TFRecord"}, "split_type", "binary", id="binary-split"),
        pytest.param({"input_filter": "$.features"}, "input_filter", "CSV rows are arrays", id="csv-by-name"),
        pytest.param(
            {"output_filter": "$['id','SageMakerOutput']", "join_source": "Input", "accept": CSV},
            "output_filter",
            "CSV rows are arrays",
            id="csv-output-by-name",
        ),
    ],
)
def test_refused_when_the_dag_is_parsed(overrides: dict[str, Any], parameter: str, problem: str) -> None:
    with pytest.raises(SpecError, match=problem) as caught:
        build_data_processing(**{**BASE, **overrides})
    assert caught.value.parameter == parameter


def test_join_without_accept_uses_the_content_type() -> None:
    # accept=None means the container answers in content_type: SageMaker's ContentType == Accept holds.
    assert build(join_source="Input").output_format.media == CSV


# --- input_filter ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "record", "sent"),
    [
        pytest.param({"input_filter": "$[1:]"}, b"id-7,1.5,2\n", b"1.5,2\n", id="csv-drop-id"),
        pytest.param({"input_filter": "$[1:]"}, b"id-7,1.5,2", b"1.5,2\n", id="csv-last-line"),
        pytest.param({"input_filter": "$[0]"}, b'"a,b",c\n', b'"a,b"\n', id="csv-quoted-field-kept-quoted'"),
        pytest.param({"input_filter": "$[-1]"}, b"a,b,\n", b'""\n', id="csv-empty-field"),
        pytest.param(
            {"input_filter": "$[1:]", "split_type": "None"}, b"a,1\nb,2\n", b"1\n2\n", id="csv-each-row-of-an-object"
        ),
        pytest.param(
            {"content_type": JSON, "input_filter": "$.features"},
            b'{"id": 1, "features": [1, 2.5]}\n',
            b"[1,2.5]\n",
            id="json-line",
        ),
        pytest.param(
            {"content_type": JSON, "input_filter": "$.features", "split_type": "None"},
            b'{"id": 1,\n "features": {"x": "\xc3\xa9"}}',
            '{"x":"\u00e9"}'.encode(),
            id="json-document-no-newline-added",
        ),
        pytest.param(
            {"content_type": JSONL, "input_filter": "$.f"}, b'{"f": 1}\n{"f": 2}\n', b"1\n2\n", id="jsonlines-object"
        ),
    ],
)
def test_filter_record(overrides: dict[str, Any], record: bytes, sent: bytes) -> None:
    assert build(**overrides).filter_record(record, 0) == sent


@pytest.mark.parametrize(
    ("overrides", "record", "problem"),
    [
        pytest.param({"input_filter": "$[5]"}, b"a,b\n", "input_filter \\$\\[5\\]: index 5 is out of range .*record 3"),
        pytest.param(
            {"content_type": JSON, "input_filter": "$.f"}, b"{not json\n", "record 3 is not valid application"
        ),
        pytest.param({"content_type": JSON, "input_filter": "$.f"}, b'{"g": 1}\n', "no attribute 'f' \\(record 3\\)"),
        pytest.param({"input_filter": "$[0]"}, b"\xff\xfe,1\n", "record 3 is not valid text/csv"),
        pytest.param({"content_type": JSONL, "input_filter": "$.f"}, b'{"f": {"a": 1}}\n', None),
    ],
)
def test_filter_record_failures_name_the_record(overrides: dict[str, Any], record: bytes, problem: str | None) -> None:
    processing = build(**overrides)
    if problem is None:  # objects are fine in JSON; only CSV cannot hold them
        assert processing.filter_record(record, 3) == b'{"a":1}\n'
        return
    with pytest.raises(DataProcessingError, match=problem):
        processing.filter_record(record, 3)


# --- join and output_filter --------------------------------------------------------------------------------------

CSV_JOIN = {"input_filter": "$[1:]", "join_source": "Input", "accept": CSV}


@pytest.mark.parametrize(
    ("overrides", "response", "sources", "multi", "written"),
    [
        pytest.param(CSV_JOIN, b"0.5\n", [b"id-1,3,4\n"], False, b"id-1,3,4,0.5\n", id="csv-join-single"),
        pytest.param(
            {**CSV_JOIN, "output_filter": "$[0,-1]"},
            b"0.5\n0.7\n",
            [b"id-1,3,4\n", b"id-2,5,6\n"],
            True,
            b"id-1,0.5\nid-2,0.7\n",
            id="csv-join-multi-keep-id-and-score",
        ),
        pytest.param(
            {**CSV_JOIN, "output_filter": "$[-3:]"}, b"1,2\n", [b"a,b\n"], False, b"b,1,2\n", id="csv-multi-column-out"
        ),
        pytest.param(
            {"output_filter": "$[1]", "accept": CSV}, b"x,y\nz,w\n", [b"", b""], True, b"y\nw\n", id="csv-filter-only"
        ),
        pytest.param(
            {"content_type": JSON, "accept": JSON, "join_source": "Input", "input_filter": "$.features"},
            b'{"predictions": [9.5]}',
            [b'{"id": 1, "features": [1, 2]}\n'],
            False,
            b'{"id":1,"features":[1,2],"SageMakerOutput":{"predictions":[9.5]}}\n',
            id="json-object-gets-sagemaker-output",
        ),
        pytest.param(
            {"content_type": JSON, "accept": JSON, "join_source": "Input"},
            b"[9.5]",
            [b"[1, 2]\n"],
            False,
            b'{"SageMakerInput":[1,2],"SageMakerOutput":[9.5]}\n',
            id="json-array-is-wrapped",
        ),
        pytest.param(
            {
                "content_type": JSON,
                "accept": JSON,
                "join_source": "Input",
                "output_filter": "$['id','SageMakerOutput']",
            },
            b'{"p": 1}\n{"p": 2}\n',
            [b'{"id": "a", "x": 0}\n', b'{"id": "b", "x": 0}\n'],
            True,
            b'{"id":"a","SageMakerOutput":{"p":1}}\n{"id":"b","SageMakerOutput":{"p":2}}\n',
            id="json-multi-record-keep-id-and-output",
        ),
        pytest.param(
            {"content_type": JSONL, "accept": JSONL, "join_source": "Input", "split_type": "None"},
            b"1\n2\n",
            [b'{"a": 1}\n"two"\n'],
            False,
            b'{"a":1,"SageMakerOutput":1}\n{"SageMakerInput":"two","SageMakerOutput":2}\n',
            id="jsonlines-whole-object-row-by-row",
        ),
    ],
)
def test_finish(overrides: dict[str, Any], response: bytes, sources: list[bytes], multi: bool, written: bytes) -> None:
    assert build(**overrides).finish(response, sources, 0, multi, "Line") == written


def test_assemble_none_concatenates_outputs() -> None:
    processing = build(**CSV_JOIN)
    assert processing.finish(b"1\n2\n", [b"a,9\n", b"b,8\n"], 0, True, "None") == b"a,9,1b,8,2"


@pytest.mark.parametrize(
    ("response", "sources", "multi", "problem"),
    [
        pytest.param(
            b"0.5\n",
            [b"a,1\n", b"b,2\n", b"c,3\n"],
            True,
            "the response to records 10-12 has 1 lines for 3 records",
            id="too-few-lines",
        ),
        pytest.param(b"1\n2\n3\n", [b"a,1\n", b"b,2\n"], True, "has 3 lines for 2 records", id="too-many-lines"),
        pytest.param(b"1\n2\n", [b"a,1\n"], False, "record 10 holds 1 value\\(s\\) but its response 2", id="single"),
    ],
)
def test_a_response_that_does_not_match_its_records_fails_clearly(
    response: bytes, sources: list[bytes], multi: bool, problem: str
) -> None:
    with pytest.raises(DataProcessingError, match=problem):
        build(**CSV_JOIN).finish(response, sources, 10, multi, "Line")


def test_a_json_response_that_is_not_json_names_the_record() -> None:
    processing = build(content_type=JSON, accept=JSON, join_source="Input")
    with pytest.raises(DataProcessingError, match="the response to record 4 is not valid application/json"):
        processing.finish(b"<html>oops</html>", [b'{"a": 1}'], 4, False, "Line")


def test_an_output_filter_that_does_not_fit_names_the_record() -> None:
    processing = build(content_type=JSON, accept=JSON, output_filter="$.score")
    with pytest.raises(DataProcessingError, match=r"output_filter \$\.score: the object there has no attribute"):
        processing.finish(json.dumps({"p": 1}).encode(), [b""], 2, False, "Line")
