"""The s3:// artifact store: boto3 managed transfers (multipart, concurrent); boto3 is imported lazily."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import ArtifactNotFound, StoreError
from ml_lifecycle.stores.base import ObjectInfo
from ml_lifecycle.stores.s3_errors import aws_errors, hint
from ml_lifecycle.stores.s3_keys import destination, key_of, relative_key, split_uri
from ml_lifecycle.stores.transfer_progress import TransferProgress

log = logging.getLogger(__name__)

PART_BYTES = 8 * 1024 * 1024  # multipart part size; S3 needs >= 5 MiB for every part but the last
DOWNLOAD_WORKERS = 8  # files downloaded at once by download_prefix
_DELETE_BATCH = 1000  # the most keys one DeleteObjects call accepts


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
        bucket, prefix = split_uri(uri)
        found = []
        for key, size_bytes, etag in self._iter_keys(uri):
            if key.endswith("/"):
                continue  # a "folder" marker made by consoles, not an artifact
            found.append(ObjectInfo(f"s3://{bucket}/{key}", relative_key(key, prefix), size_bytes, etag))
        return sorted(found, key=lambda info: info.relative_key)

    def exists(self, uri: ArtifactUri | str) -> bool:
        """Say whether an object exists at exactly uri (False also when the bucket is missing).

        :param uri: the object.
        """
        bucket, key = split_uri(uri, need_key=True)
        try:
            with aws_errors(uri):
                self.client.head_object(Bucket=bucket, Key=key)
        except ArtifactNotFound:
            return False
        return True

    def read_bytes(self, uri: ArtifactUri | str) -> bytes:
        """Read a whole (small) object; raises ArtifactNotFound when missing.

        :param uri: the object.
        """
        bucket, key = split_uri(uri, need_key=True)
        with aws_errors(uri):
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
        bucket, key = split_uri(uri, need_key=True)
        conditions = {"IfNoneMatch": "*"} if if_absent else {}
        with aws_errors(uri):
            self.client.put_object(Bucket=bucket, Key=key, Body=data, **conditions)

    def iter_chunks(self, uri: ArtifactUri | str, chunk_bytes: int = 8 * 1024 * 1024) -> Iterator[bytes]:
        """Stream an object's bytes in bounded memory.

        :param uri: the object.
        :param chunk_bytes: the size of each chunk.
        """
        bucket, key = split_uri(uri, need_key=True)
        with aws_errors(uri):
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
            with contextlib.closing(body):
                yield from body.iter_chunks(chunk_size=chunk_bytes)

    def write_chunks(self, uri: ArtifactUri | str, chunks: Iterable[bytes], *, part_bytes: int = PART_BYTES) -> None:
        """Write an object from a stream through a multipart upload that is completed only on success.

        :param uri: the object.
        :param chunks: its content.
        :param part_bytes: the size of each uploaded part (>= 5 MiB); a smaller total is one put_object.
        """
        bucket, key = split_uri(uri, need_key=True)
        stream = iter(chunks)
        buffer = bytearray()
        for chunk in stream:
            buffer += chunk
            if len(buffer) >= part_bytes:
                break
        else:  # the whole stream fits in one part
            with aws_errors(uri):
                self.client.put_object(Bucket=bucket, Key=key, Body=bytes(buffer))
            return
        with aws_errors(uri):
            upload_id = self.client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        try:
            parts = self._upload_parts(uri, upload_id, buffer, stream, part_bytes)
            with aws_errors(uri):
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
        bucket, key = split_uri(uri, need_key=True)
        Path(local_path).parent.mkdir(parents=True, exist_ok=True)
        with aws_errors(uri):
            self.client.download_file(bucket, key, local_path, Config=_transfer_config(DOWNLOAD_WORKERS))

    def download_prefix(self, uri: ArtifactUri | str, local_dir: str, objects: list[ObjectInfo] | None = None) -> None:
        """Copy objects below uri into local_dir, keeping relative paths, several files at once.

        :param uri: the prefix.
        :param local_dir: the destination folder.
        :param objects: the objects to copy (a subset of list_objects(uri)); None copies all.
        """
        bucket, _prefix = split_uri(uri)
        chosen = self.list_objects(uri) if objects is None else objects
        if not chosen:
            return
        root = Path(local_dir).resolve()
        jobs = [(key_of(info, bucket), destination(root, info)) for info in chosen]
        workers = min(DOWNLOAD_WORKERS, len(jobs))
        # Keep the threads in total near DOWNLOAD_WORKERS: botocore's default pool holds 10 connections.
        config = _transfer_config(max(1, DOWNLOAD_WORKERS // workers))
        progress = TransferProgress(str(uri), sum(info.size_bytes for info in chosen))

        def fetch(job: tuple[str, Path]) -> None:
            key, destination = job
            destination.parent.mkdir(parents=True, exist_ok=True)
            with aws_errors(f"s3://{bucket}/{key}"):
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
        bucket, key = split_uri(uri, need_key=True)
        if not Path(local_path).is_file():
            raise ArtifactNotFound(f"{local_path} does not exist or is not a file. Check the path")
        with aws_errors(uri):
            self.client.upload_file(local_path, bucket, key, Config=_transfer_config(DOWNLOAD_WORKERS))
            return self.client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')

    def delete_prefix(self, uri: ArtifactUri | str) -> int:
        """Delete every object equal to or below the prefix uri and return how many were deleted.

        :param uri: a prefix or object.
        """
        bucket, _prefix = split_uri(uri)
        keys = [key for key, _size, _etag in self._iter_keys(uri)]
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + _DELETE_BATCH]]
            with aws_errors(uri):
                answer = self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            if errors := answer.get("Errors"):
                first = errors[0]
                raise StoreError(
                    f"Could not delete {len(errors)} objects below {uri}, e.g. {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message')}. {hint(first.get('Code', ''), bucket)}"
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
        bucket, prefix = split_uri(uri)
        paginator = self.client.get_paginator("list_objects_v2")
        with aws_errors(uri):
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
        bucket, key = split_uri(uri, need_key=True)
        parts: list[dict[str, Any]] = []

        def send(data: bytes) -> None:
            number = len(parts) + 1
            with aws_errors(uri):
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
