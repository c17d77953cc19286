"""One error hierarchy for ml_lifecycle; every message says what went wrong and how to fix it."""

from __future__ import annotations


class MlLifecycleError(Exception):
    """Root of every error this package raises on purpose."""


class SpecError(MlLifecycleError, ValueError):
    """A parameter is invalid; raised when the DAG is parsed or before anything costly starts."""

    def __init__(self, parameter: str, problem: str, fix: str) -> None:
        """Build the message from its three parts.

        :param parameter: the operator parameter or spec field at fault, e.g. ``channels['train']``.
        :param problem: what is wrong with the value.
        :param fix: what to write instead.
        """
        self.parameter = parameter
        self.errors: list[SpecError] = [self]
        super().__init__(f"{parameter}: {problem}. {fix}")

    @classmethod
    def of_many(cls, errors: list[SpecError]) -> SpecError:
        """Return one error that reports several, each on its own line (a DAG author fixes them all at once).

        :param errors: the errors, in the order of the parameters.
        """
        flat = list({str(inner): inner for error in errors for inner in error.errors}.values())  # one per problem
        if len(flat) == 1:
            return flat[0]
        combined = cls.__new__(cls)
        combined.parameter = ", ".join(e.parameter for e in flat)
        combined.errors = flat
        text = f"{len(flat)} arguments are wrong:\n" + "\n".join(f"- {e}" for e in flat)
        MlLifecycleError.__init__(combined, text)
        return combined


class ArtifactNotFound(MlLifecycleError, FileNotFoundError):
    """An artifact URI names nothing."""


class StoreError(MlLifecycleError):
    """An artifact store could not read or write."""


class RegistryError(MlLifecycleError):
    """An image registry refused or failed a push, pull or lookup."""


class EngineError(MlLifecycleError):
    """The container engine is unreachable or refused a request."""


class ImageNotFound(EngineError):
    """An image is neither on the engine nor pullable."""


class JobFailed(MlLifecycleError):
    """A training, transform or endpoint job ended in a failed state."""

    def __init__(self, job_name: str, status: str, reason: str, log_tail: str = "") -> None:
        """Carry the job's identity, final state, failure reason and last log lines.

        :param job_name: the job's name.
        :param status: the final state (Failed, Stopped, MaxRuntimeExceeded).
        :param reason: the failure reason (the first 1024 characters of /opt/ml/output/failure).
        :param log_tail: the last lines of the container log.
        """
        self.job_name = job_name
        self.status = status
        self.reason = reason
        self.log_tail = log_tail
        text = f"Job {job_name} ended {status}: {reason or 'no failure reason was written'}"
        if log_tail:
            text += f"\n--- last lines of the container log ---\n{log_tail}"
        super().__init__(text)


class ArchiveError(MlLifecycleError):
    """A model archive is corrupt, unsafe to unpack, holds no model, or its inputs clash."""


class EndpointNotReady(MlLifecycleError):
    """A serving container did not answer GET /ping in time."""


class EndpointBusy(MlLifecycleError):
    """Another task is deploying or deleting the endpoint."""


class EndpointOwned(MlLifecycleError):
    """The endpoint's name is taken on this engine by another state home (ML_LIFECYCLE_HOME)."""


class TransformFailed(MlLifecycleError):
    """One or more input objects of a batch transform failed."""


class ArtifactExists(MlLifecycleError, FileExistsError):
    """An artifact that must not be replaced exists already."""


class ComputeError(MlLifecycleError):
    """EC2 refused or failed a launch, a lookup or a termination."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        """Carry the message and whether trying again can help.

        :param message: what went wrong and how to fix it.
        :param retryable: True for capacity and throttling, where a later attempt can succeed.
        """
        self.retryable = retryable
        super().__init__(message)


class GpuUnavailable(EngineError, ComputeError):
    """The Docker engine cannot give a container the GPUs a job asks for (a retry cannot help: install or choose)."""
