"""How one input object becomes requests, and how each response becomes bytes of its ``.out``: pure, streaming."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.core.batching import (
    MB,
    UNLIMITED_PAYLOAD_BYTES,
    Batch,
    assemble,
    batch_records,
    batch_with_sources,
    split_records,
)
from ml_lifecycle.core.data_processing import DataProcessing
from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.execution_parameters import ExecutionParameters
from ml_lifecycle.core.gzip_stream import gunzip_chunks
from ml_lifecycle.core.line_packing import pack_lines


@dataclass(frozen=True)
class RecordPlan:
    """The settled record handling of a transform.

    :param split_type: ``Line``, ``None``, ``RecordIO`` or ``TFRecord``.
    :param batch_strategy: ``MultiRecord`` or ``SingleRecord``.
    :param max_payload_bytes: the most bytes per request; a bigger record fails its object. UNLIMITED_PAYLOAD_BYTES
        (max_payload_mb 0) sends each object whole, streamed (MultiRecord or SplitType None), or each record alone.
    :param assemble_with: ``Line`` or ``None``.
    :param gzip: whether objects are gzip-compressed (CompressionType Gzip).
    :param processing: input_filter / join_source / output_filter, or None.
    """

    split_type: str
    batch_strategy: str
    max_payload_bytes: int
    assemble_with: str
    gzip: bool = False
    processing: DataProcessing | None = None

    @classmethod
    def for_transform(cls, spec: Any, params: ExecutionParameters) -> RecordPlan:
        """Return how a transform's objects become requests, once its parameters are settled.

        :param spec: the TransformSpec.
        :param params: the settled execution parameters (the container may have chosen max_payload_mb 0).
        """
        return cls(
            split_type=spec.split_type,
            batch_strategy=params.batch_strategy,
            # max_payload_mb 0: no limit; whole objects stream (streams_objects), single records go out chunked.
            max_payload_bytes=params.max_payload_mb * MB or UNLIMITED_PAYLOAD_BYTES,
            assemble_with=spec.assemble_with,
            gzip=spec.compression_type == "Gzip",
            processing=spec.data_processing(),
        )

    def __post_init__(self) -> None:
        """Refuse record processing on objects that are streamed whole (they are never split into records)."""
        if self.streams_objects and self.processing is not None:
            raise SpecError(
                "max_payload_mb",
                "0 streams each input object whole to the container, so input_filter, output_filter and "
                "join_source, which work on records, cannot apply",
                "Set max_payload_mb to 1-100, or use batch_strategy SingleRecord with a split_type",
            )

    @property
    def streams_objects(self) -> bool:
        """Whether each object goes out whole as one chunked request (max_payload_mb 0, MultiRecord or no split)."""
        unlimited = self.max_payload_bytes >= UNLIMITED_PAYLOAD_BYTES
        return unlimited and (self.split_type == "None" or self.batch_strategy == "MultiRecord")

    def decoded(self, chunks: Iterable[bytes]) -> Iterable[bytes]:
        """Return an object's bytes as the container gets them: decompressed when the input is gzip.

        :param chunks: the object's bytes as stored.
        """
        return gunzip_chunks(chunks) if self.gzip else chunks

    def batches(self, chunks: Iterable[bytes]) -> Iterator[Batch]:
        """Turn an object's bytes, as they stream in, into request bodies.

        :param chunks: the object's bytes as stored.
        """
        chunks = self.decoded(chunks)
        if self.split_type == "Line" and self.batch_strategy == "MultiRecord" and self.processing is None:
            return pack_lines(chunks, self.max_payload_bytes)  # same bodies, without a Python step per line
        return self.requests(self.records(chunks))

    def records(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Split an object's (decompressed) bytes into records.

        :param chunks: the object's bytes.
        """
        keep_framing = self.batch_strategy == "MultiRecord"
        return split_records(chunks, self.split_type, keep_framing, self.max_payload_bytes)

    def requests(self, records: Iterable[bytes]) -> Iterator[Batch]:
        """Filter records (input_filter) and pack them into request bodies.

        :param records: the object's records, in order.
        """
        processing = self.processing
        if processing is None or not (processing.filters_input or processing.processes_output):
            return batch_records(records, self.max_payload_bytes, self.batch_strategy)
        if not processing.processes_output:
            sent = (processing.filter_record(r, i) for i, r in enumerate(records))
            return batch_records(sent, self.max_payload_bytes, self.batch_strategy)
        join = processing.join
        pairs = (
            (processing.filter_record(r, i) if processing.filters_input else r, r if join else b"")
            for i, r in enumerate(records)
        )
        return batch_with_sources(pairs, self.max_payload_bytes, self.batch_strategy)

    def written(self, batch: Batch, response: bytes) -> bytes:
        """Return what is written for a request's response: joined, filtered and assembled.

        :param batch: the request.
        :param response: the container's answer.
        """
        processing = self.processing
        if processing is None or not processing.processes_output:
            return assemble(response, self.assemble_with)
        return processing.finish(
            response, batch.sources, batch.first_index, self.batch_strategy == "MultiRecord", self.assemble_with
        )
