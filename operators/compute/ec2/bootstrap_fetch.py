"""Download one s3:// object to a file with the standard library only (EC2 user data runs it before the agent).

Usage: ``python3 - s3://bucket/key /dest/path`` (the source fed on stdin). Runs on Python 3.9+. Credentials from
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, else the instance role via IMDSv2
(AWS_EC2_METADATA_SERVICE_ENDPOINT, default http://169.254.169.254/); region from AWS_REGION/AWS_DEFAULT_REGION,
else IMDS; endpoint from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (path style), else AWS S3.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

ATTEMPTS = 5
TIMEOUT_S = 60
CHUNK_BYTES = 1 << 20
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
DEFAULT_IMDS = "http://169.254.169.254/"
TRANSIENT = (urllib.error.URLError, http.client.HTTPException, OSError)


class FetchError(Exception):
    """A download failed for a reason a retry cannot fix."""


def with_retries(action: Callable[[], Any], what: str, sleep: Callable[[float], Any] = time.sleep) -> Any:
    """Call action, retrying connection errors and 5xx answers with exponential backoff.

    :param action: a function of no arguments.
    :param what: what is being done, for messages.
    :param sleep: the sleep function (seconds).
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return action()
        except urllib.error.HTTPError as err:
            if err.code < 500 or attempt == ATTEMPTS:
                raise
            problem = f"HTTP {err.code}"
        except TRANSIENT as err:
            if attempt == ATTEMPTS:
                raise FetchError(f"{what} failed after {ATTEMPTS} attempts: {err}") from err
            problem = str(err)
        print(f"{what}: attempt {attempt} failed ({problem}); retrying", file=sys.stderr)
        sleep(min(2 ** (attempt - 1), 8))
    raise FetchError(what)  # not reached


class Metadata:
    """Reads the instance metadata service (IMDSv2: a session token first)."""

    def __init__(self, base: str) -> None:
        """Remember the service's base URL.

        :param base: e.g. http://169.254.169.254/
        """
        self.base = base if base.endswith("/") else base + "/"
        self.token: str | None = None

    def get(self, path: str) -> str:
        """Return the text at a metadata path.

        :param path: e.g. latest/meta-data/placement/region
        """
        if self.token is None:
            put = urllib.request.Request(
                self.base + "latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"}
            )
            self.token = with_retries(lambda: _read(put), "IMDS token").decode()
        get = urllib.request.Request(self.base + path, headers={"X-aws-ec2-metadata-token": self.token})
        return with_retries(lambda: _read(get), "IMDS " + path).decode()


def _read(request: urllib.request.Request) -> bytes:
    """Return the body of a small response.

    :param request: a urllib request.
    """
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return response.read()


def credentials(env: Mapping[str, str], metadata: Metadata) -> tuple[str, str, str]:
    """Return (access key, secret key, session token or "") from the environment, else the instance role.

    :param env: the environment.
    :param metadata: the metadata service.
    """
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN", "")
    roles = metadata.get("latest/meta-data/iam/security-credentials/").split()
    if not roles:
        raise FetchError("the instance has no role: launch it with an instance profile")
    document = json.loads(metadata.get("latest/meta-data/iam/security-credentials/" + roles[0]))
    return document["AccessKeyId"], document["SecretAccessKey"], document.get("Token", "")


def object_url(env: Mapping[str, str], region: str, bucket: str, key: str) -> str:
    """Return the URL of an object: path style on a custom endpoint, else AWS S3.

    :param env: the environment.
    :param region: the bucket's region.
    :param bucket: the bucket.
    :param key: the key (not encoded).
    """
    quoted = urllib.parse.quote(key, safe="/~")
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        return f"{endpoint.rstrip('/')}/{bucket}/{quoted}"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    if "." in bucket:  # a dotted bucket breaks the TLS name of the virtual host
        return f"https://s3.{region}.{suffix}/{bucket}/{quoted}"
    return f"https://{bucket}.s3.{region}.{suffix}/{quoted}"


def _hmac(key: bytes, text: str) -> bytes:
    """Return HMAC-SHA256 of text under key.

    :param key: the key.
    :param text: the message.
    """
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signed_headers(
    url: str, region: str, access_key: str, secret_key: str, token: str, amz_date: str
) -> dict[str, str]:
    """Return the headers of a SigV4-signed S3 GET of url (an empty payload).

    :param url: the object URL, its path already URI-encoded.
    :param region: the signing region.
    :param access_key: the access key id.
    :param secret_key: the secret access key.
    :param token: the session token, or "".
    :param amz_date: the request time as YYYYMMDDTHHMMSSZ.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port and (parts.scheme, parts.port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{parts.port}"
    headers = {"host": host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": amz_date}
    if token:
        headers["x-amz-security-token"] = token
    names = sorted(headers)
    canonical = "\n".join(
        [
            "GET",
            parts.path or "/",
            parts.query,
            "".join(name + ":" + " ".join(headers[name].split()) + "\n" for name in names),
            ";".join(names),
            EMPTY_SHA256,
        ]
    )
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), amz_date[:8])
    for part in (region, "s3", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    signed = ";".join(names)
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return headers


def download(url: str, headers: Mapping[str, str], dest: str) -> None:
    """Stream one GET into dest through a temporary file in the same folder, then rename it into place.

    :param url: the object URL.
    :param headers: the signed headers.
    :param dest: the destination path.
    """
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".fetch-")
    try:
        with os.fdopen(handle, "wb") as out:
            request = urllib.request.Request(url, headers=dict(headers))
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                while True:
                    chunk = response.read(CHUNK_BYTES)
                    if not chunk:
                        break
                    out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, dest)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def fetch(uri: str, dest: str, env: Mapping[str, str]) -> None:
    """Download an s3:// object to dest.

    :param uri: s3://bucket/key.
    :param dest: the destination path.
    :param env: the environment.
    """
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise FetchError(f"{uri!r} is not an s3://bucket/key URI")
    metadata = Metadata(env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or DEFAULT_IMDS)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or metadata.get("latest/meta-data/placement/region")
    access_key, secret_key, token = credentials(env, metadata)
    url = object_url(env, region, bucket, key)

    def attempt() -> None:
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        download(url, signed_headers(url, region, access_key, secret_key, token, amz_date), dest)

    try:
        with_retries(attempt, "GET " + uri)
    except urllib.error.HTTPError as err:
        body = err.read(2000).decode("utf-8", "replace")
        hints = {
            403: "access denied: the instance role needs s3:GetObject on it (and kms:Decrypt for a KMS-encrypted bucket)",
            404: "no such object or bucket",
        }
        raise FetchError(f"GET {uri}: HTTP {err.code}, {hints.get(err.code, 'refused')}\n{body}") from err


def main(argv: list[str]) -> int:
    """Download argv[0] (s3://bucket/key) to argv[1]; return the exit status.

    :param argv: the arguments after the program name.
    """
    if len(argv) != 2:
        print("usage: bootstrap_fetch.py s3://bucket/key /dest/path", file=sys.stderr)
        return 2
    try:
        fetch(argv[0], argv[1], dict(os.environ))
    except (FetchError, urllib.error.URLError, OSError, ValueError, KeyError) as err:
        print(f"ml-lifecycle fetch: {err}", file=sys.stderr)
        return 1
    print(f"ml-lifecycle fetch: {argv[0]} -> {argv[1]} ({os.path.getsize(argv[1])} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
