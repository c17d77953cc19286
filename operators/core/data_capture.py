"""SageMaker's DataCaptureConfig: validated, and the rules of its records (encoding, folders) the serving side follows.

The serving side (the endpoint proxy's mlc_capture.lua) writes the records; this module is the reference it is
tested against: which content types are text, where an hour's files go, and what a record holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.uris import ArtifactUri, parse_uri

PARAMETER = "data_capture"
KEYS = (
    "EnableCapture",
    "InitialSamplingPercentage",
    "DestinationS3Uri",
    "KmsKeyId",
    "CaptureOptions",
    "CaptureContentTypeHeader",
)
CAPTURE_MODES = ("Input", "Output", "InputAndOutput")
# botocore's CsvContentType / JsonContentType pattern (1-256 characters; 1-10 of each).
CONTENT_TYPE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*/[a-zA-Z0-9](-*[a-zA-Z0-9.])*")
MAX_CONTENT_TYPES = 10
MAX_CONTENT_TYPE_CHARS = 256
ENCODING_CSV = "CSV"
ENCODING_JSON = "JSON"
ENCODING_BASE64 = "BASE64"
EVENT_VERSION = "0"
EXAMPLE = (
    'Write e.g. {"EnableCapture": True, "InitialSamplingPercentage": 100, "DestinationS3Uri": "s3://bucket/capture", '
    '"CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}], '
    '"CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}}'
)


@dataclass(frozen=True)
class DataCapture:
    """What an endpoint captures and where (SageMaker's DataCaptureConfig with EnableCapture true).

    :param sampling_percentage: the share of invocations captured, 0-100 (0 captures nothing).
    :param destination_uri: the prefix the records go under (``s3://`` or ``file://``), canonical.
    :param capture_input: whether the request body is captured.
    :param capture_output: whether the response body is captured.
    :param csv_content_types: media types captured as text with encoding CSV (lower case).
    :param json_content_types: media types captured as text with encoding JSON (lower case); others are base64.
    """

    sampling_percentage: int
    destination_uri: str
    capture_input: bool = True
    capture_output: bool = True
    csv_content_types: tuple[str, ...] = ()
    json_content_types: tuple[str, ...] = ()

    def folder_uri(self, endpoint_name: str, variant_name: str) -> ArtifactUri:
        """Return ``<destination>/<endpoint>/<variant>``, under which the hour folders go.

        :param endpoint_name: the endpoint's name.
        :param variant_name: the production variant's name.
        """
        return parse_uri(self.destination_uri, f"{PARAMETER}.DestinationS3Uri").join(endpoint_name, variant_name)

    def encoding_of(self, content_type: str) -> str:
        """Return how a body of this content type is captured: CSV or JSON as text, else BASE64.

        The media type is compared without its parameters and case (``text/csv; charset=utf-8`` is ``text/csv``).

        :param content_type: the observed Content-Type header ("" when there was none).
        """
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type in self.csv_content_types:
            return ENCODING_CSV
        if media_type in self.json_content_types:
            return ENCODING_JSON
        return ENCODING_BASE64

    def body_encoding(self, content_type: str, body: bytes) -> str:
        """Return how this body is captured: as encoding_of says, but BASE64 for a text type that is not UTF-8
        (a JSON line holds UTF-8 text only).

        :param content_type: the observed Content-Type header ("" when there was none).
        :param body: the body.
        """
        encoding = self.encoding_of(content_type)
        if encoding != ENCODING_BASE64:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                return ENCODING_BASE64
        return encoding


def hour_folder(inference_time: datetime) -> str:
    """Return the ``yyyy/mm/dd/hh`` folder (UTC) of a record's inference time.

    :param inference_time: when the request came (aware).
    """
    return inference_time.astimezone(UTC).strftime("%Y/%m/%d/%H")


def inference_time_text(inference_time: datetime) -> str:
    """Return eventMetadata.inferenceTime as SageMaker writes it: ``2026-12-07T14:05:27Z``.

    :param inference_time: when the request came (aware).
    """
    return inference_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_data_capture(config: Mapping[str, Any] | None) -> DataCapture | None:
    """Validate a DataCaptureConfig; return what it captures, or None when capture is off (absent or disabled).

    :param config: SageMaker's DataCaptureConfig as a dict, or None.
    """
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise SpecError(PARAMETER, f"{config!r} is not a DataCaptureConfig dict", EXAMPLE)
    unknown = sorted(set(config) - set(KEYS))
    if unknown:
        raise SpecError(PARAMETER, f"has unknown key(s) {unknown}", f"Use only {list(KEYS)}")
    enabled = config.get("EnableCapture", True)
    if not isinstance(enabled, bool):
        raise SpecError(f"{PARAMETER}.EnableCapture", f"{enabled!r} is not true or false", "Write True or False")
    missing = [k for k in ("InitialSamplingPercentage", "DestinationS3Uri", "CaptureOptions") if k not in config]
    if missing:
        raise SpecError(PARAMETER, f"lacks {missing} (SageMaker requires them)", EXAMPLE)
    percentage = _sampling_percentage(config["InitialSamplingPercentage"])
    destination = parse_uri(config["DestinationS3Uri"], f"{PARAMETER}.DestinationS3Uri")
    if config.get("KmsKeyId") is not None:
        raise SpecError(
            f"{PARAMETER}.KmsKeyId",
            "is not applied to capture files yet",
            "Remove it, and encrypt the destination bucket by default (SSE-KMS) instead",
        )
    capture_input, capture_output = _capture_modes(config["CaptureOptions"])
    csv_types, json_types = _content_types(config.get("CaptureContentTypeHeader"))
    if not enabled:
        return None
    return DataCapture(percentage, str(destination), capture_input, capture_output, csv_types, json_types)


def _sampling_percentage(value: Any) -> int:
    """Accept an integer 0-100.

    :param value: InitialSamplingPercentage.
    """
    if type(value) is not int or not 0 <= value <= 100:
        raise SpecError(
            f"{PARAMETER}.InitialSamplingPercentage",
            f"{value!r} is not a whole number from 0 to 100",
            "Write the share of requests to capture, e.g. 100 or 20",
        )
    return value


def _capture_modes(options: Any) -> tuple[bool, bool]:
    """Return (input, output) from CaptureOptions: 1-2 of ``{"CaptureMode": "Input"|"Output"|"InputAndOutput"}``.

    :param options: CaptureOptions.
    """
    parameter = f"{PARAMETER}.CaptureOptions"
    if isinstance(options, (str, bytes, Mapping)) or not isinstance(options, Sequence) or not 1 <= len(options) <= 2:
        raise SpecError(parameter, f"{options!r} is not a list of 1-2 options", EXAMPLE)
    modes = []
    for option in options:
        mode = option.get("CaptureMode") if isinstance(option, Mapping) else None
        if not isinstance(option, Mapping) or set(option) != {"CaptureMode"} or mode not in CAPTURE_MODES:
            raise SpecError(
                parameter, f"{option!r} is not a capture option", f"Write {{'CaptureMode': m}}, m in {CAPTURE_MODES}"
            )
        modes.append(mode)
    return (
        any(m in ("Input", "InputAndOutput") for m in modes),
        any(m in ("Output", "InputAndOutput") for m in modes),
    )


def _content_types(header: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the CSV and JSON media types (lower case) of a CaptureContentTypeHeader.

    :param header: CaptureContentTypeHeader, or None (every body is captured base64).
    """
    parameter = f"{PARAMETER}.CaptureContentTypeHeader"
    if header is None:
        return (), ()
    if not isinstance(header, Mapping) or not set(header) <= {"CsvContentTypes", "JsonContentTypes"}:
        raise SpecError(parameter, f"{header!r} is not a header dict", 'Write {"CsvContentTypes": ["text/csv"]}')
    found: list[tuple[str, ...]] = []
    for key in ("CsvContentTypes", "JsonContentTypes"):
        values = header.get(key)
        if values is None:
            found.append(())
            continue
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise SpecError(f"{parameter}.{key}", f"{values!r} is not a list of content types", 'Write ["text/csv"]')
        if len(values) > MAX_CONTENT_TYPES:
            raise SpecError(f"{parameter}.{key}", f"has {len(values)} types", f"Name at most {MAX_CONTENT_TYPES}")
        for value in values:
            if not isinstance(value, str) or len(value) > MAX_CONTENT_TYPE_CHARS or not CONTENT_TYPE.fullmatch(value):
                raise SpecError(f"{parameter}.{key}", f"{value!r} is not a content type", "Write e.g. text/csv")
        found.append(tuple(v.lower() for v in values))
    return found[0], found[1]
