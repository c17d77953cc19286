"""Kinds of job (training, transform, processing): where each keeps its record, what it reports, how it fails, how long it runs.

What a kind decides is the same on every backend, so it lives here once; a backend decides only how the job runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml_lifecycle.core import contract
from ml_lifecycle.core.errors import JobFailed, TransformFailed
from ml_lifecycle.core.script_mode import CODE_CHANNEL
from ml_lifecycle.core.status import JobRecord, JobStatus, SecondaryStatus
from ml_lifecycle.core.uris import ArtifactUri, parse_uri

RECORD_NAME = "status.json"
# Past max_runtime_s and the stop grace, a job still gets this long to boot, pull its image, pack and upload outputs.
DEADLINE_MARGIN_S = 900
# A transform's record and scratch objects live below its output prefix, in this folder (never an output).
RECORDS_FOLDER = ".ml-lifecycle"


def job_output_uri(output_path: str, job_name: str) -> ArtifactUri:
    """Return ``<output_path>/<job>``, where a training job's record and ``output/`` live.

    :param output_path: the spec's output_path.
    :param job_name: the job name.
    """
    return parse_uri(output_path, "output_path").join(job_name)


def transform_job_uri(output_uri: str, job_name: str) -> ArtifactUri:
    """Return ``<output_uri>/.ml-lifecycle/<job>``, where a transform's record and staging live.

    :param output_uri: the transform's output prefix.
    :param job_name: the job name.
    """
    return parse_uri(output_uri, "output_uri").join(RECORDS_FOLDER, job_name)


def transform_record_uri(output_uri: str, job_name: str) -> str:
    """Return where a transform's record lives: ``<output_uri>/.ml-lifecycle/<job>/status.json``.

    :param output_uri: the transform's output prefix.
    :param job_name: the job name.
    """
    return str(transform_job_uri(output_uri, job_name).join(RECORD_NAME))


def max_runtime_hint(status: str) -> str:
    """Return advice for a job that ran out of time (empty for other endings).

    :param status: the job's secondary status.
    """
    if status != SecondaryStatus.MAX_RUNTIME_EXCEEDED:
        return ""
    return " (raise max_runtime_s if the job needs longer)"


@dataclass(frozen=True)
class JobKind:
    """What every kind of job says the same way on every backend.

    :param name: ``training``, ``transform`` or ``processing`` (the record's ``kind``, the ``ml-lifecycle.kind`` label).
    :param title: how the task log names one ("Training job", "Transform").
    :param stop_grace_s: seconds between SIGTERM and SIGKILL when the job is stopped.
    """

    name: str
    title: str
    stop_grace_s: int

    def record_uri(self, spec: Any, job_name: str) -> str:
        """Return where the job's record is.

        :param spec: the job's spec.
        :param job_name: the job's name.
        """
        raise NotImplementedError

    def outputs(self, spec: Any, record: JobRecord) -> dict[str, str]:
        """Return XCom key -> URI of what a completed job produced.

        :param spec: the job's spec.
        :param record: its final record.
        """
        raise NotImplementedError

    def locations(self, spec: Any) -> dict[str, str]:
        """Return parameter -> URI of every location the job reads or writes (they decide what it needs to reach).

        :param spec: the job's spec.
        """
        raise NotImplementedError

    def lineage(self, spec: Any, outputs: dict[str, str]) -> tuple[list[str], list[str]]:
        """Return (the URIs a completed job read, the URIs it wrote), as the Amazon provider reports its jobs'.

        :param spec: the job's spec.
        :param outputs: what the job reported (``outputs``).
        """
        raise NotImplementedError

    def max_runtime_s(self, spec: Any) -> int:
        """Return how long the job may run, stop grace included.

        :param spec: the job's spec.
        """
        return int(spec.max_runtime_s) + self.stop_grace_s

    def overdue(self, job_name: str, log_tail: str) -> Exception:
        """Return the error for a job that ran past its deadline and was stopped.

        :param job_name: the job's name.
        :param log_tail: the last lines of its log.
        """
        overdue = JobRecord(job_name=job_name, kind=self.name, status=JobStatus.STOPPED)
        overdue.secondary_status = SecondaryStatus.MAX_RUNTIME_EXCEEDED
        overdue.failure_reason = "it ran past max_runtime_s and its grace period, and was stopped"
        return self.failure(job_name, overdue, "", log_tail)

    def failure(self, job_name: str, record: JobRecord | None, unfinished: str, log_tail: str) -> Exception:
        """Return the error a task raises for a job that did not complete.

        :param job_name: the job's name.
        :param record: its record, or None when it wrote none.
        :param unfinished: why the wait ended without a final record ("" when the record is final).
        :param log_tail: the last lines of its log.
        """
        status = record.secondary_status if record is not None else SecondaryStatus.FAILED
        reason = (record.failure_reason if record is not None else "") or unfinished or "no reason was recorded"
        if record is not None and record.status == JobStatus.IN_PROGRESS and unfinished:
            status = JobStatus.IN_PROGRESS
        return JobFailed(job_name, status, reason + max_runtime_hint(status), log_tail)


@dataclass(frozen=True)
class TrainingKind(JobKind):
    """A training job: its record is ``<output_path>/<job>/status.json``; it reports model and output archives."""

    name: str = "training"
    title: str = "Training job"
    stop_grace_s: int = contract.STOP_GRACE_TRAINING_S

    def record_uri(self, spec: Any, job_name: str) -> str:
        """Return ``<output_path>/<job>/status.json``.

        :param spec: the TrainingSpec.
        :param job_name: the job's name.
        """
        return str(job_output_uri(spec.output_path, job_name).join(RECORD_NAME))

    def outputs(self, spec: Any, record: JobRecord) -> dict[str, str]:
        """Return the model and output archives (or folders, with compression NONE).

        :param spec: the TrainingSpec.
        :param record: its final record.
        """
        return {
            "model_uri": record.artifacts.get("model", ""),
            "output_uri": record.artifacts.get("output", ""),
            "image_digest": record.image_digest,
        }

    def locations(self, spec: Any) -> dict[str, str]:
        """Return the output path, the checkpoint prefix (when given) and every channel.

        :param spec: the TrainingSpec.
        """
        found = {"output_path": spec.output_path}
        if spec.checkpoint_uri:
            found["checkpoint_uri"] = spec.checkpoint_uri
        found.update({f"channels[{name!r}]": channel.uri for name, channel in spec.channels.items()})
        return found

    def lineage(self, spec: Any, outputs: dict[str, str]) -> tuple[list[str], list[str]]:
        """Return the channels' data (not script mode's code) and the model.

        :param spec: the TrainingSpec.
        :param outputs: what the job reported.
        """
        channels = [channel.uri for name, channel in spec.channels.items() if name != CODE_CHANNEL]
        return channels, [outputs["model_uri"]] if outputs.get("model_uri") else []


@dataclass(frozen=True)
class TransformKind(JobKind):
    """A batch transform: its record is ``<output_uri>/.ml-lifecycle/<job>/status.json``; it reports output_uri."""

    name: str = "transform"
    title: str = "Transform"
    stop_grace_s: int = contract.STOP_GRACE_SERVING_S

    def record_uri(self, spec: Any, job_name: str) -> str:
        """Return ``<output_uri>/.ml-lifecycle/<job>/status.json``.

        :param spec: the TransformSpec.
        :param job_name: the job's name.
        """
        return transform_record_uri(spec.output_uri, job_name)

    def outputs(self, spec: Any, record: JobRecord) -> dict[str, str]:
        """Return the output prefix.

        :param spec: the TransformSpec.
        :param record: its final record.
        """
        return {"output_uri": spec.output_uri}

    def locations(self, spec: Any) -> dict[str, str]:
        """Return the model, the input and the output prefix.

        :param spec: the TransformSpec.
        """
        return {"model_uri": spec.model_uri, "input_uri": spec.input_uri, "output_uri": spec.output_uri}

    def lineage(self, spec: Any, outputs: dict[str, str]) -> tuple[list[str], list[str]]:
        """Return the input and the model, and the output prefix.

        :param spec: the TransformSpec.
        :param outputs: what the job reported.
        """
        return [spec.input_uri, spec.model_uri], [outputs["output_uri"]]

    def failure(self, job_name: str, record: JobRecord | None, unfinished: str, log_tail: str) -> Exception:
        """Return TransformFailed naming the inputs that failed (the record's reason) and the log's last lines.

        :param job_name: the job's name.
        :param record: its record, or None when it wrote none.
        :param unfinished: why the wait ended without a final record ("" when the record is final).
        :param log_tail: the last lines of its log.
        """
        status = record.status if record is not None and not unfinished else "did not finish"
        if record is not None and record.secondary_status == SecondaryStatus.MAX_RUNTIME_EXCEEDED:
            status = SecondaryStatus.MAX_RUNTIME_EXCEEDED
        reason = (record.failure_reason if record is not None else "") or unfinished or "no reason was recorded"
        counts = record.metrics if record is not None else {}
        if counts.get("failed_objects") and counts.get("objects") and not unfinished:
            reason = f"{int(counts['failed_objects'])} of {int(counts['objects'])} input objects failed: {reason}"
        text = f"Batch transform {job_name} {status}: {reason}{max_runtime_hint(status)} (no .out was written for the inputs named)"
        return TransformFailed(text + ("\n" + log_tail if log_tail else ""))


@dataclass(frozen=True)
class ProcessingKind(JobKind):
    """A processing job: its record is ``<records_uri>/<job>/status.json``; it reports each output's destination."""

    name: str = "processing"
    title: str = "Processing job"
    stop_grace_s: int = contract.STOP_GRACE_TRAINING_S

    def record_uri(self, spec: Any, job_name: str) -> str:
        """Return ``<records_uri>/<job>/status.json``.

        :param spec: the ProcessingSpec.
        :param job_name: the job's name.
        """
        return str(job_output_uri(spec.records_uri, job_name).join(RECORD_NAME))

    def outputs(self, spec: Any, record: JobRecord) -> dict[str, str]:
        """Return output name -> its destination URI, and the image digest.

        :param spec: the ProcessingSpec.
        :param record: its final record.
        """
        return {**{output.name: output.destination for output in spec.outputs}, "image_digest": record.image_digest}

    def locations(self, spec: Any) -> dict[str, str]:
        """Return the records location, every input's source and every output's destination.

        :param spec: the ProcessingSpec.
        """
        found = {"records_uri": spec.records_uri}
        found.update({f"inputs[{item.name!r}]": item.source for item in spec.inputs})
        found.update({f"outputs[{item.name!r}]": item.destination for item in spec.outputs})
        return found

    def lineage(self, spec: Any, outputs: dict[str, str]) -> tuple[list[str], list[str]]:
        """Return the inputs' sources and the outputs' destinations.

        :param spec: the ProcessingSpec.
        :param outputs: what the job reported.
        """
        return [item.source for item in spec.inputs], [item.destination for item in spec.outputs]


TRAINING = TrainingKind()
TRANSFORM = TransformKind()
PROCESSING = ProcessingKind()
KINDS = {kind.name: kind for kind in (TRAINING, TRANSFORM, PROCESSING)}
