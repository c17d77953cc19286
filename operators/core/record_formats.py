"""Records as values for DataProcessing: CSV rows are arrays of strings, JSON and JSON Lines are parsed documents."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

CSV = "text/csv"
JSON = "application/json"
JSON_LINES = "application/jsonlines"
FORMATS = (CSV, JSON, JSON_LINES)


def media_type(value: str | None) -> str:
    """Return the media type of a Content-Type or Accept value, lower case, without parameters.

    :param value: e.g. ``text/csv; charset=utf-8``.
    """
    return (value or "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class RecordFormat:
    """How the records of one media type become values and back.

    :param media: one of FORMATS.
    """

    media: str

    def decode(self, data: bytes) -> list[Any]:
        """Return the values in some bytes: one per CSV row or JSON line; one document for JSON.

        :param data: the bytes of one record (or one response to it).
        """
        text = data.decode("utf-8")
        if self.media == CSV:
            return [row for row in csv.reader(io.StringIO(text)) if row]
        if self.media == JSON:
            return [json.loads(text)] if text.strip() else []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def encode(self, values: list[Any]) -> bytes:
        """Return values as bytes, one per line, without a final newline.

        :param values: CSV rows (lists, or one scalar each) or JSON values.
        """
        if self.media != CSV:
            return "\n".join(json.dumps(v, separators=(",", ":"), ensure_ascii=False) for v in values).encode()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for value in values:
            if isinstance(value, dict):
                raise ValueError("an object cannot be written as a CSV row; select array elements, e.g. $[0] or $[1:]")
            row = value if isinstance(value, list) else [value]
            writer.writerow([v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in row])
        return out.getvalue().removesuffix("\n").encode()
