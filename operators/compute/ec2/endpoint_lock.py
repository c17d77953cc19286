"""One deploy or delete of an EC2 endpoint at a time: a lease object in S3, taken and given back by conditional writes."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.errors import EndpointBusy
from ml_lifecycle.stores.s3_errors import status_of

log = logging.getLogger(__name__)

LOCK_NAME = "lock.json"
# Longer than any deploy should take (instances up, /ping, a canary's or linear shift's bake times); a lease left by a
# task that died is taken over after it, or at once by a later try of the same DAG run.
DEFAULT_LEASE_S = 3 * 3600
RUN_KEYS = ("ml-lifecycle.dag-id", "ml-lifecycle.run-id")
ACQUIRE_ATTEMPTS = 5


def may_take_over(current: Mapping[str, Any], holder: Mapping[str, str], now_s: float) -> bool:
    """Say whether a lease someone holds may be taken: it ran out, or it is held by the same DAG run (a retry).

    :param current: the lease as stored (``holder``, ``expires_at_s``).
    :param holder: who asks (the Airflow identity labels).
    :param now_s: the time now, in UNIX seconds.
    """
    expires_at_s = current.get("expires_at_s")
    if not isinstance(expires_at_s, (int, float)) or now_s >= expires_at_s:
        return True
    owner = current.get("holder") or {}
    return all(owner.get(key) == holder.get(key) for key in RUN_KEYS) and bool(holder.get(RUN_KEYS[0]))


def describe_holder(current: Mapping[str, Any]) -> str:
    """Say who holds a lease and until when, for the error a second deploy gets.

    :param current: the lease as stored.
    """
    owner = current.get("holder") or {}
    who = ", ".join(f"{key.removeprefix('ml-lifecycle.')} {owner[key]}" for key in sorted(owner)) or "an unknown task"
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(current.get("expires_at_s") or 0)))
    return f"{who} (lease until {until})"


@dataclass
class EndpointLease:
    """The lease on one endpoint, kept in ``<state prefix>/lock.json``.

    :param s3: a boto3 S3 client.
    :param prefix: the endpoint's state prefix (``s3://``).
    :param endpoint_name: the endpoint's name, for messages.
    :param holder: who takes it (the Airflow identity labels).
    :param lease_s: how long it holds unless given back.
    """

    s3: Any
    prefix: ArtifactUri
    endpoint_name: str
    holder: dict[str, str]
    lease_s: int = DEFAULT_LEASE_S
    etag: str | None = field(default=None, init=False)

    @property
    def key(self) -> str:
        """The lock object's key."""
        return self.prefix.join(LOCK_NAME).path

    def acquire(self) -> None:
        """Take the lease, or raise EndpointBusy naming who holds it; a lapsed one or one of this DAG run is taken over."""
        for _ in range(ACQUIRE_ATTEMPTS):
            try:
                self.etag = self._put(IfNoneMatch="*")
                return
            except self.s3.exceptions.ClientError as err:
                if not _lost_race(err):
                    raise
            current, etag = self._read()
            if current is None:  # given back between the put and the read: try again
                continue
            if not may_take_over(current, self.holder, time.time()):
                raise EndpointBusy(
                    f"Endpoint {self.endpoint_name} is being deployed or deleted by {describe_holder(current)}. "
                    "Wait for that task to end (this task's retries wait for it), or, if it is gone for good, "
                    f"delete s3://{self.prefix.bucket}/{self.key}"
                )
            log.info("Endpoint %s: taking over the lease of %s", self.endpoint_name, describe_holder(current))
            try:
                self.etag = self._put(IfMatch=etag)
                return
            except self.s3.exceptions.ClientError as err:
                if not _lost_race(err):  # changed or given back since the read: look again
                    raise
        raise EndpointBusy(
            f"Endpoint {self.endpoint_name}: other tasks kept taking and giving back its lease; retry later"
        )

    def forget(self) -> None:
        """Drop the lease without giving it back: it went with the endpoint's state prefix."""
        self.etag = None

    def release(self) -> None:
        """Give the lease back, if it is still ours; a failure is logged, never raised (it lapses by itself)."""
        if self.etag is None:
            return
        try:
            self.s3.delete_object(Bucket=self.prefix.bucket, Key=self.key, IfMatch=self.etag)
        except self.s3.exceptions.ClientError as err:
            if status_of(err) != 404:  # 404: deleted with the endpoint's state; 412: taken over after it lapsed
                log.warning("Endpoint %s: could not give its lease back (%s); it lapses", self.endpoint_name, err)
        except Exception as err:  # S3 unreachable: the lease ends by itself
            log.warning("Endpoint %s: could not give its lease back (%s); it lapses by itself", self.endpoint_name, err)
        self.etag = None

    def __enter__(self) -> EndpointLease:
        """Take the lease."""
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Give the lease back.

        :param kind: the exception's type, if any.
        :param error: the exception, if any.
        :param trace: its traceback.
        """
        self.release()

    def _put(self, **condition: str) -> str:
        """Write the lease under a condition and return its ETag.

        :param condition: IfNoneMatch or IfMatch.
        """
        now_s = time.time()
        body = {"holder": self.holder, "acquired_at_s": now_s, "expires_at_s": now_s + self.lease_s}
        answer = self.s3.put_object(
            Bucket=self.prefix.bucket,
            Key=self.key,
            Body=json.dumps(body, sort_keys=True).encode(),
            ContentType="application/json",
            **condition,
        )
        return str(answer["ETag"])

    def _read(self) -> tuple[dict[str, Any] | None, str]:
        """Return the lease as stored and its ETag, or (None, "") when there is none."""
        try:
            answer = self.s3.get_object(Bucket=self.prefix.bucket, Key=self.key)
        except self.s3.exceptions.NoSuchKey:
            return None, ""
        try:
            data = json.loads(answer["Body"].read())
        except ValueError:
            data = {}  # unreadable: treated as lapsed
        return (data if isinstance(data, dict) else {}), str(answer["ETag"])


def _lost_race(err: Any) -> bool:
    """Say whether an S3 error means another writer came first: a failed condition (412), a conflicting conditional
    write (409), or the object gone since it was read (404).

    :param err: a botocore ClientError.
    """
    code = str(err.response.get("Error", {}).get("Code", ""))
    races = ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409", "404")
    return code in races or status_of(err) in (404, 409, 412)
