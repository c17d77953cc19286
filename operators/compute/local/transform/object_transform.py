"""One input object through a serving container into its ``.out``: by records in bounded batches, or streamed whole."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ml_lifecycle.compute.local.serving.containers import ServingContainer
from ml_lifecycle.compute.local.transform.ordered import ordered_map
from ml_lifecycle.compute.local.transform.progress import TransformProgress
from ml_lifecycle.compute.local.transform.streamed_invoke import StreamedInvocation, assembled, with_retries
from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core.batching import UNLIMITED_PAYLOAD_BYTES, Batch
from ml_lifecycle.core.record_plan import RecordPlan
from ml_lifecycle.core.specs import TransformSpec
from ml_lifecycle.core.uris import ArtifactUri


@dataclass(frozen=True)
class ObjectSides:
    """Where one object comes from and goes to, and what its requests carry.

    :param store_for: returns the store for a URI.
    :param source: the input object.
    :param target: its ``.out``.
    :param headers: the request headers.
    :param progress: counts what is sent.
    """

    store_for: StoreFor
    source: ArtifactUri
    target: ArtifactUri
    headers: dict[str, str]
    progress: TransformProgress

    def input_chunks(self) -> Iterator[bytes]:
        """Read the input object from its start, in chunks."""
        return self.store_for(self.source).iter_chunks(self.source)


def transform_records(
    sides: ObjectSides,
    spec: TransformSpec,
    plan: RecordPlan,
    server: ServingContainer,
    executor: ThreadPoolExecutor,
    window: int,
) -> None:
    """Send an object's records in requests, window at a time, and write the answers in input order (atomically).

    :param sides: the object's source, target, headers and progress.
    :param spec: the transform spec.
    :param plan: how records are split, sent and written.
    :param server: the container.
    :param executor: the pool requests run on.
    :param window: requests in flight at once.
    """
    batches = sides.progress.counted(plan.batches(sides.input_chunks()))
    chunked = plan.max_payload_bytes == UNLIMITED_PAYLOAD_BYTES

    def invoke(batch: Batch) -> bytes:
        return plan.written(batch, server.client.invoke(batch.body, sides.headers, spec.max_retries, chunked=chunked))

    sides.store_for(sides.target).write_chunks(sides.target, ordered_map(invoke, batches, executor, window))


def stream_object(sides: ObjectSides, spec: TransformSpec, plan: RecordPlan, server: ServingContainer) -> None:
    """Send one object whole as a chunked POST and stream the answer into its ``.out`` (max_payload_mb 0).

    Neither the object nor the answer is ever held whole; a try that fails leaves no output, and the next try reads
    the object again from its start.

    :param sides: the object's source, target, headers and progress.
    :param spec: the transform spec.
    :param plan: how the object is decoded and the answer assembled.
    :param server: the container.
    """
    invocation = StreamedInvocation(server.client.host, server.client.port, spec.invocation_timeout_s, sides.headers)

    def attempt() -> None:
        body = sides.progress.counted_bytes(plan.decoded(sides.input_chunks()))
        try:
            answer = assembled(invocation.answer(iter(body)), plan.assemble_with)
            sides.store_for(sides.target).write_chunks(sides.target, answer)
        except BaseException:
            body.take_back()  # the next try sends the object again: count it once
            raise

    with_retries(attempt, spec.max_retries)
    sides.progress.add_requests(1)
