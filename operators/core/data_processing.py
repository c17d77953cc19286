"""DataProcessing of a batch transform: input_filter per record, then join_source and output_filter per response.

Rules, as SageMaker states them: only text/csv, application/json and application/jsonlines; each CSV row is a JSON
array; joining needs content_type == accept (one of those three), and for CSV split_type = assemble_with = Line.
JSON objects get a ``SageMakerOutput`` attribute; any other JSON value is wrapped as
``{"SageMakerInput": ..., "SageMakerOutput": ...}``; a CSV output row is appended to its input row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.jsonpath import JsonPath, PathError, parse_jsonpath
from ml_lifecycle.core.record_errors import DataProcessingError
from ml_lifecycle.core.record_formats import CSV, FORMATS, JSON, RecordFormat, media_type

JOIN_SOURCES = ("None", "Input")
SAGEMAKER_INPUT = "SageMakerInput"
SAGEMAKER_OUTPUT = "SageMakerOutput"


@dataclass(frozen=True)
class DataProcessing:
    """Validated DataProcessing settings with parsed paths.

    :param input_filter: selects what is sent for each input value.
    :param output_filter: selects what is written for each (joined) output value.
    :param join: whether each output is joined with its raw input record (JoinSource Input).
    :param input_format: the format of the input (content_type).
    :param output_format: the format of the responses (accept, else content_type).
    """

    input_filter: JsonPath
    output_filter: JsonPath
    join: bool
    input_format: RecordFormat
    output_format: RecordFormat

    @property
    def filters_input(self) -> bool:
        """Whether records are rewritten before they are sent."""
        return not self.input_filter.is_root

    @property
    def processes_output(self) -> bool:
        """Whether responses are parsed, joined or filtered before they are written."""
        return self.join or not self.output_filter.is_root

    def filter_record(self, record: bytes, index: int) -> bytes:
        """Return the part of a record that input_filter selects, in the input format, ending in a newline.

        :param record: the record as read.
        :param index: its index in the object, for errors.
        """
        values = _decode(self.input_format, record, f"record {index}")
        try:
            data = self.input_format.encode([self.input_filter.apply(v) for v in values])
        except PathError as err:
            raise DataProcessingError(f"input_filter {err} (record {index})") from err
        except ValueError as err:
            raise DataProcessingError(f"input_filter {self.input_filter.text}: record {index}: {err}") from err
        newline = self.input_format.media != JSON or record.endswith(b"\n")
        return data + b"\n" if newline else data

    def finish(
        self,
        response: bytes,
        sources: Sequence[bytes],
        first_index: int,
        multi_record: bool,
        assemble_with: str,
    ) -> bytes:
        """Turn the response to some records into what is written for them: joined, filtered, assembled.

        :param response: the container's answer to a request holding ``len(sources)`` records.
        :param sources: the records as read (before input_filter), in order.
        :param first_index: the index of the first of them in the object, for errors.
        :param multi_record: whether the request held several records packed together (one line each).
        :param assemble_with: ``Line`` ends each record's output with a newline; ``None`` adds nothing.
        """
        units = _response_units(response, len(sources), first_index, multi_record)
        written = []
        for offset, unit in enumerate(units):
            index = first_index + offset
            values = _decode(self.output_format, unit, f"the response to record {index}")
            if self.join:
                inputs = _decode(self.input_format, sources[offset], f"record {index}")
                if len(inputs) != len(values):
                    raise DataProcessingError(
                        f"record {index} holds {len(inputs)} value(s) but its response {len(values)}; "
                        "join_source='Input' needs one output per input row"
                    )
                rows = self.input_format.media == CSV
                values = [_join(a, b, rows) for a, b in zip(inputs, values, strict=True)]
            try:
                data = self.output_format.encode([self.output_filter.apply(v) for v in values])
            except PathError as err:
                raise DataProcessingError(f"output_filter {err} (record {index})") from err
            except ValueError as err:
                raise DataProcessingError(f"output_filter {self.output_filter.text}: record {index}: {err}") from err
            written.append(data + b"\n" if assemble_with == "Line" else data)
        return b"".join(written)


def data_processing_of(settings: Any) -> DataProcessing | None:
    """Build DataProcessing from anything carrying a transform's settings by name (a TransformSpec, the operator).

    :param settings: an object with input_filter, output_filter, join_source, content_type, accept, split_type and
        assemble_with attributes.
    """
    return build_data_processing(
        input_filter=settings.input_filter,
        output_filter=settings.output_filter,
        join_source=settings.join_source,
        content_type=settings.content_type,
        accept=settings.accept,
        split_type=settings.split_type,
        assemble_with=settings.assemble_with,
    )


def build_data_processing(
    *,
    input_filter: str | None,
    output_filter: str | None,
    join_source: str,
    content_type: str | None,
    accept: str | None,
    split_type: str,
    assemble_with: str,
) -> DataProcessing | None:
    """Validate DataProcessing settings against the transform's formats; None when there is nothing to do.

    :param input_filter: a JSONPath, or None for ``$``.
    :param output_filter: a JSONPath, or None for ``$``.
    :param join_source: ``None`` or ``Input``.
    :param content_type: the input's media type.
    :param accept: the responses' media type, or None (then content_type).
    :param split_type: the transform's split_type.
    :param assemble_with: the transform's assemble_with.
    """
    inputs = parse_jsonpath(input_filter, "input_filter")
    outputs = parse_jsonpath(output_filter, "output_filter")
    if join_source not in JOIN_SOURCES:
        raise SpecError("join_source", f"{join_source!r} is not allowed", "Write 'None' or 'Input'")
    join = join_source == "Input"
    if inputs.is_root and outputs.is_root and not join:
        return None
    given = media_type(content_type)
    answered = media_type(accept) or given
    _require_format("content_type", given)
    if join or not outputs.is_root:
        _require_format("accept", answered)
    if split_type not in ("Line", "None"):
        raise SpecError(
            "split_type", f"{split_type!r} frames binary records, which DataProcessing cannot read", "Use 'Line'"
        )
    if join and answered != given:
        raise SpecError(
            "accept",
            f"join_source='Input' needs accept equal to content_type ({given}), not {answered}",
            f"Set accept={given!r}",
        )
    if join and given == CSV and (split_type, assemble_with) != ("Line", "Line"):
        raise SpecError(
            "split_type" if split_type != "Line" else "assemble_with",
            "joining CSV needs split_type='Line' and assemble_with='Line'",
            "Set both to 'Line'",
        )
    for path, parameter, media in ((inputs, "input_filter", given), (outputs, "output_filter", answered)):
        if media == CSV and path.uses_names:
            raise SpecError(
                parameter, f"{path.text!r} selects by name, but CSV rows are arrays", "Use indexes: '$[0]', '$[1:]'"
            )
    return DataProcessing(inputs, outputs, join, RecordFormat(given), RecordFormat(answered))


def _require_format(parameter: str, media: str) -> None:
    """Refuse media types DataProcessing cannot read.

    :param parameter: ``content_type`` or ``accept``.
    :param media: the media type.
    """
    if media not in FORMATS:
        raise SpecError(
            parameter,
            f"{media or 'no media type'!r} cannot be filtered or joined; DataProcessing reads {', '.join(FORMATS)}",
            f"Set {parameter} to one of them, or drop input_filter, output_filter and join_source",
        )


def _decode(record_format: RecordFormat, data: bytes, what: str) -> list[Any]:
    """Parse bytes in a format, or fail naming the record.

    :param record_format: the format.
    :param data: the bytes.
    :param what: what the bytes are, for errors, e.g. ``record 3``.
    """
    try:
        return record_format.decode(data)
    except ValueError as err:  # UnicodeDecodeError and json.JSONDecodeError are ValueErrors
        raise DataProcessingError(f"{what} is not valid {record_format.media}: {err}") from err


def _response_units(response: bytes, count: int, first_index: int, multi_record: bool) -> list[bytes]:
    """Cut a response into one piece per record: its lines when records were packed, else the whole body.

    :param response: the response body.
    :param count: how many records the request held.
    :param first_index: the first record's index, for errors.
    :param multi_record: whether records were packed into the request.
    """
    if not multi_record or count == 1:
        return [response]
    lines = [line for line in response.splitlines() if line.strip()]
    if len(lines) != count:
        raise DataProcessingError(
            f"the response to records {first_index}-{first_index + count - 1} has {len(lines)} lines for {count} "
            "records; with MultiRecord, join_source and output_filter need one response line per record "
            "(or set batch_strategy='SingleRecord')"
        )
    return lines


def _join(source: Any, output: Any, rows: bool) -> Any:
    """Join one input value with its output, as SageMaker does.

    :param source: the input value (a CSV row or a JSON value).
    :param output: the output value.
    :param rows: whether both are CSV rows (the output row is appended) rather than JSON values.
    """
    if rows:
        return source + output
    if isinstance(source, dict):
        return {**source, SAGEMAKER_OUTPUT: output}
    return {SAGEMAKER_INPUT: source, SAGEMAKER_OUTPUT: output}
