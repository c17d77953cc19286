"""Any OCI registry (distribution registry:2, Harbor, ...) through its HTTP API v2, with Basic or Bearer auth."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from ml_lifecycle.errors import RegistryError
from ml_lifecycle.registries.base import RemoteImage
from ml_lifecycle.registries.credentials import Credentials

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def is_loopback(host: str) -> bool:
    """Say whether a registry host is on the loopback network (where Docker allows plain HTTP).

    :param host: ``name[:port]``.
    """
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


class OciRegistry:
    """An OCI registry reached over HTTPS (plain HTTP on loopback, as Docker allows).

    :param host: ``host[:port]``, e.g. ``127.0.0.1:5000`` or ``harbor.example.com``.
    :param credentials: login and password when the registry needs them, else None.
    :param timeout_s: the timeout of each HTTP request, in seconds; default 30.
    """

    def __init__(self, host: str, credentials: Credentials | None = None, timeout_s: float = 30.0) -> None:
        self.host = host.rstrip("/")
        self.credentials = credentials
        self.timeout_s = timeout_s
        self._scheme = "http" if is_loopback(self.host) else "https"
        self._authorization: str | None = None

    def repository_uri(self, repository: str) -> str:
        """Return ``host/repository`` (OCI registries create repositories on the first push).

        :param repository: the repository path.
        """
        return f"{self.host}/{repository}"

    def confirm(self, repository: str, digest: str, tag: str) -> None:
        """Check that the tag now names the pushed digest.

        :param repository: the repository path.
        :param digest: the pushed manifest digest.
        :param tag: the tag pushed with it.
        """
        found = self.lookup(repository, tag)
        if found is None or found.digest != digest:
            raise RegistryError(
                f"{self.host}/{repository}:{tag} names {found.digest if found else 'nothing'} after pushing {digest}; "
                "another push may have moved the tag. Push again, or pin the digest"
            )

    def tags_are_immutable(self, repository: str) -> bool:
        """OCI registries do not say; tags are treated as movable.

        :param repository: the repository path.
        """
        return False

    def auth_config(self) -> Mapping[str, str] | None:
        """The docker SDK auth_config, or None without credentials."""
        return self.credentials.auth_config if self.credentials else None

    def lookup(self, repository: str, reference: str) -> RemoteImage | None:
        """Return the manifest a tag or digest names, or None (HTTP 404).

        :param repository: the repository path.
        :param reference: a tag or ``sha256:...`` digest.
        """
        status, headers, body = self._request(
            "GET", f"/v2/{repository}/manifests/{reference}", {"Accept": ", ".join(MANIFEST_TYPES)}
        )
        if status == 404:
            return None
        if status != 200:
            raise RegistryError(
                f"{self.host} answered HTTP {status} for {repository}:{reference}: {body[:300]!r}. "
                "Check the registry and the credentials"
            )
        digest = headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()
        try:
            manifest = json.loads(body)
        except ValueError as err:
            raise RegistryError(f"{self.host} sent a manifest that is not JSON for {repository}:{reference}") from err
        return RemoteImage(digest=digest, config_digest=(manifest.get("config") or {}).get("digest", ""))

    def _request(self, method: str, path: str, headers: Mapping[str, str]) -> tuple[int, Mapping[str, str], bytes]:
        """Send one request, answering an auth challenge once.

        :param method: the HTTP method.
        :param path: the path under the registry.
        :param headers: request headers.
        """
        for attempt in range(2):
            request = urllib.request.Request(
                f"{self._scheme}://{self.host}{path}", method=method, headers=dict(headers)
            )
            if self._authorization:
                request.add_header("Authorization", self._authorization)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return response.status, response.headers, response.read()
            except urllib.error.HTTPError as err:
                if err.code == 401 and attempt == 0:
                    self._authorization = self._answer_challenge(err.headers.get("WWW-Authenticate", ""))
                    continue
                if err.code in (401, 403):
                    raise RegistryError(
                        f"{self.host} refused access to {path} (HTTP {err.code}). Give registry_conn_id= an Airflow "
                        "connection whose login and password the registry accepts"
                    ) from err
                return err.code, err.headers, err.read()
            except OSError as err:
                raise RegistryError(
                    f"Cannot reach the registry at {self._scheme}://{self.host} ({err}). Start it, or fix the host"
                ) from err
        raise AssertionError("unreachable")

    def _answer_challenge(self, challenge: str) -> str:
        """Turn a WWW-Authenticate challenge into an Authorization header value.

        :param challenge: the header, e.g. ``Basic realm="x"`` or ``Bearer realm="...",service="...",scope="..."``.
        """
        if not self.credentials and not challenge.lower().startswith("bearer"):
            raise RegistryError(
                f"The registry {self.host} needs a login. Pass registry_conn_id= naming an Airflow connection "
                "(type docker or generic) with its login and password"
            )
        basic = ""
        if self.credentials:
            pair = f"{self.credentials.username}:{self.credentials.password}".encode()
            basic = "Basic " + base64.b64encode(pair).decode()
        if challenge.lower().startswith("basic"):
            return basic
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        query = urllib.parse.urlencode({k: v for k, v in params.items() if k in ("service", "scope")})
        request = urllib.request.Request(f"{params.get('realm', '')}?{query}")
        if basic:
            request.add_header("Authorization", basic)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                answer = json.loads(response.read())
        except (OSError, ValueError) as err:
            raise RegistryError(f"The token service of {self.host} refused a token ({err}); check the login") from err
        return "Bearer " + (answer.get("token") or answer.get("access_token") or "")
