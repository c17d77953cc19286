"""The s3:// artifact store: boto3 managed transfers (multipart, concurrent); boto3 is imported lazily."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import ArtifactExists, ArtifactNotFound, MlLifecycleError, StoreError
from ml_lifecycle.stores.base import ObjectInfo

log = logging.getLogger(__name__)

PART_BYTES = 8 * 1024 * 1024  # multipart part size; S3 needs >= 5 MiB for every part but the last
DOWNLOAD_WORKERS = 8  # files downloaded at once by download_prefix
PROGRESS_INTERVAL_S = 5.0
_DELETE_BATCH = 1000  # the most keys one DeleteObjects call accepts

_HINTS = {
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


class S3Store:
    """An ArtifactStore for s3:// URIs; objects appear whole or not at all."""

    def __init__(self, client_factory: Callable[[], Any]) -> None:
        """Keep the factory; the client is built on first use and shared by all threads.

        :param client_factory: returns a boto3 S3 client (e.g. ml_lifecycle.aws_clients.client_factory("s3")).
        """
        self._client_factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 S3 client (built once)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._client_factory()
        return self._client

    def list_objects(self, uri: ArtifactUri | str) -> list[ObjectInfo]:
        """List every object equal to or below the prefix uri, sorted by relative_key; [] when there is none.

        :param uri: a prefix (s3://b/p lists the key p and keys starting with p/) or a single object.
        """
        bucket, prefix = _split(uri)
        found = []
        for key, size_bytes, etag in self._iter_keys(uri):
            if key.endswith("/"):
                continue  # a "folder" marker made by consoles, not an artifact
            found.append(ObjectInfo(f"s3://{bucket}/{key}", _relative_key(key, prefix), size_bytes, etag))
        return sorted(found, key=lambda info: info.relative_key)

    def exists(self, uri: ArtifactUri | str) -> bool:
        """Say whether an object exists at exactly uri (False also when the bucket is missing).

        :param uri: the object.
        """
        bucket, key = _split(uri, need_key=True)
        try:
            with _aws_errors(uri):
                self.client.head_object(Bucket=bucket, Key=key)
        except ArtifactNotFound:
            return False
        return True

    def read_bytes(self, uri: ArtifactUri | str) -> bytes:
        """Read a whole (small) object; raises ArtifactNotFound when missing.

        :param uri: the object.
        """
        bucket, key = _split(uri, need_key=True)
        with _aws_errors(uri):
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
            with contextlib.closing(body):
                return body.read()

    def write_bytes(self, uri: ArtifactUri | str, data: bytes, *, if_absent: bool = False) -> None:
        """Write a whole object (S3 makes it visible atomically); with if_absent, never replace one.

        :param uri: the object.
        :param data: its content.
        :param if_absent: raise ArtifactExists if the object exists; uses the conditional write
            ``If-None-Match: *`` (S3 since 2024, MinIO, and moto >= 5.0.14 all honour it), so it is race-safe.
        """
        bucket, key = _split(uri, need_key=True)
        conditions = {"IfNoneMatch": "*"} if if_absent else {}
        with _aws_errors(uri):
            self.client.put_object(Bucket=bucket, Key=key, Body=data, **conditions)

    def iter_chunks(self, uri: ArtifactUri | str, chunk_bytes: int = 8 * 1024 * 1024) -> Iterator[bytes]:
        """Stream an object's bytes in bounded memory.

        :param uri: the object.
        :param chunk_bytes: the size of each chunk.
        """
        bucket, key = _split(uri, need_key=True)
        with _aws_errors(uri):
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
            with contextlib.closing(body):
                yield from body.iter_chunks(chunk_size=chunk_bytes)

    def write_chunks(self, uri: ArtifactUri | str, chunks: Iterable[bytes], *, part_bytes: int = PART_BYTES) -> None:
        """Write an object from a stream through a multipart upload that is completed only on success.

        :param uri: the object.
        :param chunks: its content.
        :param part_bytes: the size of each uploaded part (>= 5 MiB); a smaller total is one put_object.
        """
        bucket, key = _split(uri, need_key=True)
        stream = iter(chunks)
        buffer = bytearray()
        for chunk in stream:
            buffer += chunk
            if len(buffer) >= part_bytes:
                break
        else:  # the whole stream fits in one part
            with _aws_errors(uri):
                self.client.put_object(Bucket=bucket, Key=key, Body=bytes(buffer))
            return
        with _aws_errors(uri):
            upload_id = self.client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        try:
            parts = self._upload_parts(uri, upload_id, buffer, stream, part_bytes)
            with _aws_errors(uri):
                self.client.complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            self._abort(bucket, key, upload_id)
            raise

    def download_file(self, uri: ArtifactUri | str, local_path: str) -> None:
        """Copy one object to a local file (created with its parent folders); multipart and concurrent.

        :param uri: the object.
        :param local_path: the destination file.
        """
        bucket, key = _split(uri, need_key=True)
        Path(local_path).parent.mkdir(parents=True, exist_ok=True)
        with _aws_errors(uri):
            self.client.download_file(bucket, key, local_path, Config=_transfer_config(DOWNLOAD_WORKERS))

    def download_prefix(self, uri: ArtifactUri | str, local_dir: str, objects: list[ObjectInfo] | None = None) -> None:
        """Copy objects below uri into local_dir, keeping relative paths, several files at once.

        :param uri: the prefix.
        :param local_dir: the destination folder.
        :param objects: the objects to copy (a subset of list_objects(uri)); None copies all.
        """
        bucket, _prefix = _split(uri)
        chosen = self.list_objects(uri) if objects is None else objects
        if not chosen:
            return
        root = Path(local_dir).resolve()
        jobs = [(_key_of(info, bucket), _destination(root, info)) for info in chosen]
        workers = min(DOWNLOAD_WORKERS, len(jobs))
        # Keep the threads in total near DOWNLOAD_WORKERS: botocore's default pool holds 10 connections.
        config = _transfer_config(max(1, DOWNLOAD_WORKERS // workers))
        progress = _Progress(str(uri), sum(info.size_bytes for info in chosen))

        def fetch(job: tuple[str, Path]) -> None:
            key, destination = job
            destination.parent.mkdir(parents=True, exist_ok=True)
            with _aws_errors(f"s3://{bucket}/{key}"):
                self.client.download_file(bucket, key, str(destination), Config=config, Callback=progress.add)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3-download") as pool:
            for _ in pool.map(fetch, jobs):
                pass
        progress.finish()

    def upload_file(self, local_path: str, uri: ArtifactUri | str) -> str:
        """Copy a local file to uri (multipart, concurrent; visible only when complete) and return its etag.

        :param local_path: the source file.
        :param uri: the destination object.
        """
        bucket, key = _split(uri, need_key=True)
        if not Path(local_path).is_file():
            raise ArtifactNotFound(f"{local_path} does not exist or is not a file. Check the path")
        with _aws_errors(uri):
            self.client.upload_file(local_path, bucket, key, Config=_transfer_config(DOWNLOAD_WORKERS))
            return self.client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')

    def delete_prefix(self, uri: ArtifactUri | str) -> int:
        """Delete every object equal to or below the prefix uri and return how many were deleted.

        :param uri: a prefix or object.
        """
        bucket, _prefix = _split(uri)
        keys = [key for key, _size, _etag in self._iter_keys(uri)]
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + _DELETE_BATCH]]
            with _aws_errors(uri):
                answer = self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            if errors := answer.get("Errors"):
                first = errors[0]
                raise StoreError(
                    f"Could not delete {len(errors)} objects below {uri}, e.g. {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message')}. {_hint(first.get('Code', ''), bucket)}"
                )
        return len(keys)

    def local_path(self, uri: ArtifactUri | str) -> str | None:
        """Return None: S3 objects have no local path.

        :param uri: any location in this store.
        """
        return None

    def _iter_keys(self, uri: ArtifactUri | str) -> Iterator[tuple[str, int, str]]:
        """Yield (key, size_bytes, etag) of the object named by uri and of every key below ``uri/``.

        :param uri: a prefix or object.
        """
        bucket, prefix = _split(uri)
        paginator = self.client.get_paginator("list_objects_v2")
        with _aws_errors(uri):
            if prefix:
                # The exact key sorts first among the keys starting with it, so one key answers.
                head = self.client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
                for item in head.get("Contents", []):
                    if item["Key"] == prefix:
                        yield item["Key"], item["Size"], item["ETag"].strip('"')
            below = f"{prefix}/" if prefix else ""
            for page in paginator.paginate(Bucket=bucket, Prefix=below):
                for item in page.get("Contents", []):
                    yield item["Key"], item["Size"], item["ETag"].strip('"')

    def _upload_parts(
        self,
        uri: ArtifactUri | str,
        upload_id: str,
        buffer: bytearray,
        stream: Iterator[bytes],
        part_bytes: int,
    ) -> list[dict[str, Any]]:
        """Upload buffer and the rest of stream as parts of part_bytes and return the parts list.

        :param uri: the object being written.
        :param upload_id: the multipart upload.
        :param buffer: the bytes read so far (at least part_bytes).
        :param stream: the remaining chunks.
        :param part_bytes: the size of each part but the last.
        """
        bucket, key = _split(uri, need_key=True)
        parts: list[dict[str, Any]] = []

        def send(data: bytes) -> None:
            number = len(parts) + 1
            with _aws_errors(uri):
                answer = self.client.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
                )
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})

        for chunk in stream:
            buffer += chunk
            while len(buffer) >= part_bytes:
                send(bytes(buffer[:part_bytes]))
                del buffer[:part_bytes]
        while len(buffer) >= part_bytes:
            send(bytes(buffer[:part_bytes]))
            del buffer[:part_bytes]
        if buffer or not parts:
            send(bytes(buffer))
        return parts

    def _abort(self, bucket: str, key: str, upload_id: str) -> None:
        """Abort a multipart upload so its parts are dropped and no object appears (best effort).

        :param bucket: the bucket.
        :param key: the key.
        :param upload_id: the multipart upload.
        """
        try:
            self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except Exception:
            log.warning(
                "Could not abort the multipart upload %s of s3://%s/%s; its parts stay billed until a "
                "bucket lifecycle rule (AbortIncompleteMultipartUpload) removes them",
                upload_id,
                bucket,
                key,
                exc_info=True,
            )


class _Progress:
    """Counts transferred bytes from many threads and logs progress at most every PROGRESS_INTERVAL_S."""

    def __init__(self, label: str, total_bytes: int) -> None:
        """Start the clock.

        :param label: what is being transferred (the URI).
        :param total_bytes: the expected total.
        """
        self._label = label
        self._total_bytes = total_bytes
        self._done_bytes = 0
        self._start_s = time.monotonic()
        self._last_log_s = self._start_s
        self._lock = threading.Lock()

    def add(self, transferred_bytes: int) -> None:
        """Count bytes (a boto3 transfer callback) and log when the interval has passed.

        :param transferred_bytes: bytes moved since the last call for this file.
        """
        with self._lock:
            self._done_bytes += transferred_bytes
            now_s = time.monotonic()
            if now_s - self._last_log_s < PROGRESS_INTERVAL_S:
                return
            self._last_log_s = now_s
        self._log(now_s)

    def finish(self) -> None:
        """Log the final totals."""
        self._log(time.monotonic())

    def _log(self, now_s: float) -> None:
        """Log bytes done, percent and throughput.

        :param now_s: the current monotonic time.
        """
        done_mb = self._done_bytes / 1e6
        percent = 100.0 * self._done_bytes / self._total_bytes if self._total_bytes else 100.0
        rate_mb_s = done_mb / max(now_s - self._start_s, 1e-6)
        log.info(
            "Downloading %s: %.1f of %.1f MB (%.0f%%) at %.1f MB/s",
            self._label,
            done_mb,
            self._total_bytes / 1e6,
            percent,
            rate_mb_s,
        )


def _split(uri: ArtifactUri | str, *, need_key: bool = False) -> tuple[str, str]:
    """Return (bucket, key) of an s3:// URI, refusing other schemes.

    :param uri: the location, parsed or as text.
    :param need_key: refuse a URI naming only a bucket (object operations need a key).
    """
    parsed = parse_uri(uri) if isinstance(uri, str) else uri
    if parsed.scheme != "s3":
        raise StoreError(
            f"S3Store cannot handle {parsed}: it only serves s3:// URIs. "
            "Get the store with ml_lifecycle.stores.store_for(uri)"
        )
    if need_key and not parsed.path:
        raise StoreError(f"{parsed} names a bucket, not an object. Write s3://{parsed.bucket}/key")
    return parsed.bucket, parsed.path


def _relative_key(key: str, prefix: str) -> str:
    """Return a listed key's path below prefix (its own name when it is the prefix itself).

    :param key: the object's key.
    :param prefix: the listed prefix, without a trailing slash ("" for the whole bucket).
    """
    if key == prefix:
        return key.rsplit("/", 1)[-1]
    return key[len(prefix) + 1 :] if prefix else key


def _key_of(info: ObjectInfo, bucket: str) -> str:
    """Return the key of a listed object (its URI is not percent-encoded, so it is not re-parsed).

    :param info: a result of list_objects.
    :param bucket: the bucket it must be in.
    """
    head = f"s3://{bucket}/"
    if not info.uri.startswith(head):
        raise StoreError(f"{info.uri} is not in the bucket {bucket}. Pass objects listed below the same URI")
    return info.uri[len(head) :]


def _destination(root: Path, info: ObjectInfo) -> Path:
    """Return where a listed object goes below root, refusing keys that climb out of it.

    :param root: the resolved destination folder.
    :param info: the object.
    """
    destination = (root / info.relative_key).resolve()
    if not destination.is_relative_to(root):
        raise StoreError(
            f"{info.uri} has the relative key {info.relative_key!r}, which points outside {root}. "
            "Rename the object so its key has no '..' segments"
        )
    return destination


def _transfer_config(concurrency: int) -> Any:
    """Return a boto3 TransferConfig: 8 MB multipart parts, concurrency threads, the classic transfer client.

    :param concurrency: threads per transfer.
    """
    from boto3.s3.transfer import TransferConfig

    # "classic" keeps the transfer on the given client (and so on the Airflow connection's endpoint and
    # credentials); the CRT client would build its own.
    return TransferConfig(
        multipart_threshold=PART_BYTES,
        multipart_chunksize=PART_BYTES,
        max_concurrency=concurrency,
        use_threads=True,
        preferred_transfer_client="classic",
    )


def _status(err: Any) -> int:
    """Return the HTTP status of a botocore ClientError (0 when unknown).

    :param err: the error.
    """
    return int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _hint(code: str, bucket: str) -> str:
    """Return how to fix an AWS error code.

    :param code: the AWS error code.
    :param bucket: the bucket concerned.
    """
    if code == "NoSuchBucket":
        return f"Create the bucket {bucket} or fix the URI"
    if code in ("403", "Forbidden"):
        return _HINTS["AccessDenied"]
    return _HINTS.get(code, "Check the Airflow AWS connection (endpoint_url, region, credentials)")


@contextlib.contextmanager
def _aws_errors(uri: ArtifactUri | str) -> Iterator[None]:
    """Translate botocore/boto3 errors into ArtifactNotFound, ArtifactExists or StoreError.

    :param uri: the location being accessed, named in the messages.
    """
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = _split(uri)[0]
    try:
        yield
    except MlLifecycleError:
        raise
    except ClientError as err:
        raise _from_client_error(err, str(uri), bucket) from err
    except S3UploadFailedError as err:
        codes = [code for code in (*_HINTS, "NoSuchBucket") if code in str(err)]
        raise StoreError(f"Uploading to {uri} failed: {err}. {_hint(codes[0] if codes else '', bucket)}") from err
    except BotoCoreError as err:
        raise StoreError(
            f"Could not reach S3 for {uri}: {err}. Check the Airflow AWS connection's endpoint_url, "
            "region and credentials, and that the endpoint is up"
        ) from err


def _from_client_error(err: Any, uri: str, bucket: str) -> MlLifecycleError:
    """Map a botocore ClientError to the error ml_lifecycle raises.

    :param err: the ClientError.
    :param uri: the location being accessed.
    :param bucket: its bucket.
    """
    code = str(err.response.get("Error", {}).get("Code", ""))
    status = _status(err)
    if code == "NoSuchBucket":
        return StoreError(f"The bucket {bucket} of {uri} does not exist (NoSuchBucket). {_hint(code, bucket)}")
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
    return StoreError(f"S3 refused a request on {uri}: {code or status} ({err}). {_hint(code, bucket)}")
