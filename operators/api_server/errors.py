"""The errors our SageMaker-compatible API answers with, as AWS names them, so clients raise what they expect."""

from __future__ import annotations


class ApiError(Exception):
    """A refused or failed API call: AWS's error code, its message and its HTTP status.

    :param code: AWS's error code (``ValidationException``, ``ResourceInUse``...), what botocore raises as.
    :param message: what went wrong and how to fix it.
    :param status: the HTTP status.
    """

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def validation(message: str) -> ApiError:
    """Return a ValidationException (SageMaker's answer to bad input, and to a name it does not know).

    :param message: what is wrong and how to fix it.
    """
    return ApiError("ValidationException", message)


def not_found(what: str, name: str) -> ApiError:
    """Return SageMaker's error for a resource that does not exist: a ValidationException naming it.

    :param what: the kind of resource, e.g. ``Training job``.
    :param name: its name.
    """
    return validation(f"{what} {name!r} does not exist (Requested resource not found)")


def in_use(what: str, name: str) -> ApiError:
    """Return SageMaker's error for a name already taken.

    :param what: the kind of resource.
    :param name: its name.
    """
    return ApiError("ResourceInUse", f"{what} {name!r} already exists: choose another name")


def api_error_of(err: Exception) -> ApiError:
    """Return what the API answers for an error our code raised: bad input is the caller's to fix (400), the rest
    is ours (500, which clients retry).

    :param err: the error.
    """
    from ml_lifecycle.core.errors import ArtifactNotFound, ComputeError, ImageNotFound, RegistryError, SpecError

    if isinstance(err, ApiError):
        return err
    if isinstance(err, SpecError | ImageNotFound | RegistryError | ArtifactNotFound):
        return validation(str(err))
    if isinstance(err, ComputeError) and not err.retryable:
        return validation(str(err))  # a bad AMI, subnet or quota: the caller's to fix, not to retry
    return ApiError("InternalFailure", "The request failed on the server; its log says why", 500)
