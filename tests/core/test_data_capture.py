"""DataCaptureConfig validation and the capture records' rules: encodings, folders, times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ml_lifecycle.core.data_capture import DataCapture, hour_folder, inference_time_text, parse_data_capture
from ml_lifecycle.core.errors import SpecError

BASE: dict[str, Any] = {
    "InitialSamplingPercentage": 20,
    "DestinationS3Uri": "s3://bucket/capture/",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, DataCapture(20, "s3://bucket/capture", True, True)),
        ({"EnableCapture": True, "InitialSamplingPercentage": 0}, DataCapture(0, "s3://bucket/capture", True, True)),
        ({"CaptureOptions": [{"CaptureMode": "Input"}]}, DataCapture(20, "s3://bucket/capture", True, False)),
        ({"CaptureOptions": [{"CaptureMode": "Output"}]}, DataCapture(20, "s3://bucket/capture", False, True)),
        ({"CaptureOptions": [{"CaptureMode": "InputAndOutput"}]}, DataCapture(20, "s3://bucket/capture", True, True)),
        ({"DestinationS3Uri": "/data/capture"}, DataCapture(20, "file:///data/capture", True, True)),
        (
            {"CaptureContentTypeHeader": {"CsvContentTypes": ["text/CSV"], "JsonContentTypes": ["application/json"]}},
            DataCapture(20, "s3://bucket/capture", True, True, ("text/csv",), ("application/json",)),
        ),
        ({"EnableCapture": False}, None),
    ],
)
def test_a_valid_config_says_what_is_captured(changes, expected):
    assert parse_data_capture({**BASE, **changes}) == expected


def test_no_config_captures_nothing():
    assert parse_data_capture(None) is None


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ("yes", "data_capture: 'yes' is not a DataCaptureConfig"),
        ({**BASE, "SamplingPercentage": 5}, "unknown key(s) ['SamplingPercentage']"),
        ({**BASE, "EnableCapture": "true"}, "data_capture.EnableCapture"),
        ({"DestinationS3Uri": "s3://b/p"}, "lacks ['InitialSamplingPercentage', 'CaptureOptions']"),
        ({**BASE, "InitialSamplingPercentage": 101}, "data_capture.InitialSamplingPercentage: 101"),
        ({**BASE, "InitialSamplingPercentage": 12.5}, "data_capture.InitialSamplingPercentage: 12.5"),
        ({**BASE, "InitialSamplingPercentage": True}, "data_capture.InitialSamplingPercentage: True"),
        ({**BASE, "DestinationS3Uri": "ftp://host/x"}, "data_capture.DestinationS3Uri"),
        ({**BASE, "KmsKeyId": "alias/k"}, "data_capture.KmsKeyId"),
        ({**BASE, "CaptureOptions": []}, "data_capture.CaptureOptions: [] is not a list of 1-2"),
        ({**BASE, "CaptureOptions": [{"CaptureMode": "Both"}]}, "data_capture.CaptureOptions: {'CaptureMode': 'Both'}"),
        ({**BASE, "CaptureOptions": "Input"}, "data_capture.CaptureOptions: 'Input'"),
        ({**BASE, "CaptureContentTypeHeader": {"XmlContentTypes": ["a/b"]}}, "CaptureContentTypeHeader"),
        ({**BASE, "CaptureContentTypeHeader": {"CsvContentTypes": "text/csv"}}, "CsvContentTypes: 'text/csv'"),
        ({**BASE, "CaptureContentTypeHeader": {"JsonContentTypes": ["json"]}}, "JsonContentTypes: 'json'"),
        ({**BASE, "CaptureContentTypeHeader": {"CsvContentTypes": ["a/b"] * 11}}, "has 11 types"),
    ],
)
def test_a_wrong_config_is_refused_with_the_field_at_fault(config, named):
    with pytest.raises(SpecError) as refused:
        parse_data_capture(config)
    assert named in str(refused.value)


CAPTURE = DataCapture(100, "file:///c", csv_content_types=("text/csv",), json_content_types=("application/json",))


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("text/csv", "CSV"),
        ("Text/CSV; charset=utf-8", "CSV"),
        (" application/json ", "JSON"),
        ("application/jsonlines", "BASE64"),
        ("application/x-npy", "BASE64"),
        ("", "BASE64"),
    ],
)
def test_listed_content_types_are_text_and_the_rest_base64(content_type, encoding):
    assert CAPTURE.encoding_of(content_type) == encoding


@pytest.mark.parametrize(
    ("content_type", "body", "encoding"),
    [
        ("text/csv", "1,2,é,✓,🙂".encode(), "CSV"),
        ("text/csv", b"1,2,\xe9", "BASE64"),  # latin-1
        ("application/json", b"\xc0\x80", "BASE64"),  # overlong
        ("application/json", b"\xed\xa0\x80", "BASE64"),  # a surrogate
        ("application/octet-stream", b"plain", "BASE64"),
    ],
)
def test_a_text_type_that_is_not_utf8_is_base64(content_type, body, encoding):
    assert CAPTURE.body_encoding(content_type, body) == encoding


def test_without_a_content_type_header_every_body_is_base64():
    assert DataCapture(100, "file:///c").encoding_of("text/csv") == "BASE64"


def test_files_go_under_the_endpoint_and_variant_of_the_destination():
    capture = parse_data_capture({**BASE, "DestinationS3Uri": "s3://bucket/capture/"})
    assert capture is not None
    assert str(capture.folder_uri("ep-1", "AllTraffic")) == "s3://bucket/capture/ep-1/AllTraffic"


@pytest.mark.parametrize(
    ("when", "folder", "text"),
    [
        (datetime(2026, 12, 7, 14, 5, 27, 900000, tzinfo=UTC), "2026/12/07/14", "2026-12-07T14:05:27Z"),
        (
            datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))),
            "2026/12/31/22",
            "2026-12-31T22:30:00Z",
        ),
    ],
)
def test_hour_folders_and_inference_times_are_utc(when, folder, text):
    assert (hour_folder(when), inference_time_text(when)) == (folder, text)
