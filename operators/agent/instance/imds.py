"""A small IMDSv2 client (stdlib only): session token, identity, and the spot interruption notice."""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

from ml_lifecycle.errors import MlLifecycleError

DEFAULT_ENDPOINT = "http://169.254.169.254/"
ENDPOINT_ENV = "AWS_EC2_METADATA_SERVICE_ENDPOINT"
TOKEN_TTL_S = 21600
TIMEOUT_S = 5.0


class MetadataError(MlLifecycleError):
    """The instance metadata service did not answer as expected."""


@dataclass(frozen=True)
class InstanceIdentity:
    """Who this instance is in its job.

    :param instance_id: the EC2 instance id.
    :param launch_index: the AmiLaunchIndex (0 for the first instance of a run_instances call).
    :param private_ip: the private IPv4 address peers reach it on.
    :param region: the instance's region.
    """

    instance_id: str
    launch_index: int
    private_ip: str
    region: str

    @property
    def host(self) -> str:
        """The SageMaker host name this instance runs: ``algo-<launch index + 1>``."""
        return f"algo-{self.launch_index + 1}"


class MetadataClient:
    """Reads the instance metadata service with IMDSv2 session tokens (refreshed when refused).

    :param endpoint: the service's base URL; None reads AWS_EC2_METADATA_SERVICE_ENDPOINT, else the link-local one.
    """

    def __init__(self, endpoint: str | None = None) -> None:
        self.endpoint = (endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT).rstrip("/") + "/"
        self._token = ""
        self._lock = threading.Lock()

    def get(self, path: str) -> str | None:
        """Return the text at a metadata path, or None when the service says 404.

        :param path: e.g. ``latest/meta-data/instance-id``.
        """
        for attempt in range(2):
            request = urllib.request.Request(
                self.endpoint + path.lstrip("/"),
                headers={"X-aws-ec2-metadata-token": self._session_token(renew=attempt > 0)},
            )
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                    return answer.read().decode()
            except urllib.error.HTTPError as err:
                if err.code == 404:
                    return None
                if err.code != 401 or attempt:
                    raise MetadataError(f"The metadata service answered {err.code} for {path}") from err
            except OSError as err:
                raise MetadataError(
                    f"The metadata service at {self.endpoint} did not answer for {path} ({err}); the agent runs only "
                    "on an EC2 instance (or with AWS_EC2_METADATA_SERVICE_ENDPOINT set to an emulator)"
                ) from err
        raise AssertionError("unreachable")

    def require(self, path: str) -> str:
        """Return the text at a metadata path that must exist.

        :param path: the metadata path.
        """
        text = self.get(path)
        if text is None:
            raise MetadataError(f"The metadata service has no {path}; is this an EC2 instance?")
        return text.strip()

    def identity(self) -> InstanceIdentity:
        """Read the instance's id, launch index, private address and region."""
        return InstanceIdentity(
            instance_id=self.require("latest/meta-data/instance-id"),
            launch_index=int(self.require("latest/meta-data/ami-launch-index")),
            private_ip=self.require("latest/meta-data/local-ipv4"),
            region=self.require("latest/meta-data/placement/region"),
        )

    def spot_action(self) -> dict[str, str] | None:
        """Return the spot instance-action notice (``{"action", "time"}``), or None while there is none."""
        text = self.get("latest/meta-data/spot/instance-action")
        if not text:
            return None
        try:
            return dict(json.loads(text))
        except ValueError:
            return {"action": "terminate", "time": text.strip()}

    def lifecycle_state(self) -> str | None:
        """Return what Auto Scaling intends for this instance (``InService``, ``Terminated``...), or None outside a
        group."""
        text = self.get("latest/meta-data/autoscaling/target-lifecycle-state")
        return text.strip() if text else None

    def _session_token(self, *, renew: bool) -> str:
        """Return a session token, asking for a new one first time or when renew is set.

        :param renew: ask for a new token (the last was refused).
        """
        with self._lock:
            if renew or not self._token:
                request = urllib.request.Request(
                    self.endpoint + "latest/api/token",
                    method="PUT",
                    headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_S)},
                )
                try:
                    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                        self._token = answer.read().decode().strip()
                except OSError as err:
                    raise MetadataError(
                        f"No IMDSv2 session token from {self.endpoint} ({err}); the agent runs only on an EC2 "
                        "instance whose metadata service is on (hop limit 2 when it runs in a container)"
                    ) from err
            return self._token
