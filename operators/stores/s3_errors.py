"""botocore and boto3 errors of S3 calls, turned into ArtifactNotFound, ArtifactExists or StoreError with a fix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import ArtifactExists, ArtifactNotFound, MlLifecycleError, StoreError
from ml_lifecycle.stores.s3_keys import split_uri

HINTS = {
    "AccessDenied": "Check the Airflow AWS connection's credentials and that they may read/write this bucket",
    "AllAccessDisabled": "Check the Airflow AWS connection's credentials and the bucket policy",
    "InvalidAccessKeyId": "Check the access key (login) of the Airflow AWS connection",
    "SignatureDoesNotMatch": "Check the secret key (password) of the Airflow AWS connection",
    "ExpiredToken": "Refresh the credentials of the Airflow AWS connection (the session token expired)",
    "InvalidBucketName": "Fix the bucket name in the URI",
    "PermanentRedirect": "Set region_name in the Airflow AWS connection to the bucket's region",
    "AuthorizationHeaderMalformed": "Set region_name in the Airflow AWS connection to the bucket's region",
    "SlowDown": "S3 is throttling requests; retry later or spread the load over more prefixes",
}


def status_of(err: Any) -> int:
    """Return the HTTP status of a botocore ClientError (0 when unknown).

    :param err: the error.
    """
    return int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def hint(code: str, bucket: str) -> str:
    """Return how to fix an AWS error code.

    :param code: the AWS error code.
    :param bucket: the bucket concerned.
    """
    if code == "NoSuchBucket":
        return f"Create the bucket {bucket} or fix the URI"
    if code in ("403", "Forbidden"):
        return HINTS["AccessDenied"]
    return HINTS.get(code, "Check the Airflow AWS connection (endpoint_url, region, credentials)")


@contextlib.contextmanager
def aws_errors(uri: ArtifactUri | str) -> Iterator[None]:
    """Translate botocore/boto3 errors into ArtifactNotFound, ArtifactExists or StoreError.

    :param uri: the location being accessed, named in the messages.
    """
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = split_uri(uri)[0]
    try:
        yield
    except MlLifecycleError:
        raise
    except ClientError as err:
        raise from_client_error(err, str(uri), bucket) from err
    except S3UploadFailedError as err:
        codes = [code for code in (*HINTS, "NoSuchBucket") if code in str(err)]
        raise StoreError(f"Uploading to {uri} failed: {err}. {hint(codes[0] if codes else '', bucket)}") from err
    except BotoCoreError as err:
        raise StoreError(
            f"Could not reach S3 for {uri}: {err}. Check the Airflow AWS connection's endpoint_url, "
            "region and credentials, and that the endpoint is up"
        ) from err


def from_client_error(err: Any, uri: str, bucket: str) -> MlLifecycleError:
    """Map a botocore ClientError to the error ml_lifecycle raises.

    :param err: the ClientError.
    :param uri: the location being accessed.
    :param bucket: its bucket.
    """
    code = str(err.response.get("Error", {}).get("Code", ""))
    status = status_of(err)
    if code == "NoSuchBucket":
        return StoreError(f"The bucket {bucket} of {uri} does not exist (NoSuchBucket). {hint(code, bucket)}")
    if code in ("NoSuchKey", "NotFound", "404") or (status == 404 and code != "NoSuchUpload"):
        # HEAD requests carry no error body, so a 404 there may also mean a missing bucket.
        return ArtifactNotFound(
            f"{uri} does not exist (no such object, or no bucket {bucket}). "
            "Check the URI, or run the step that writes it first"
        )
    if code in ("PreconditionFailed", "ConditionalRequestConflict") or status == 412:
        return ArtifactExists(
            f"{uri} exists already (or another writer is creating it) and must not be replaced. "
            "Write to a new URI, or delete the old artifact first"
        )
    return StoreError(f"S3 refused a request on {uri}: {code or status} ({err}). {hint(code, bucket)}")
