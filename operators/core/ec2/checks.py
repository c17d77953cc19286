"""What a job needs before it can run on EC2: locations and an image the instances can reach; spot waits."""

from __future__ import annotations

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.image_ref import parse_image_ref

REMOTE_SCHEMES = ("s3://",)


def check_spot_wait(use_spot: bool, max_wait_s: int | None, max_runtime_s: int) -> int | None:
    """Accept max_wait_s only with use_spot, and no shorter than max_runtime_s (as SageMaker requires).

    :param use_spot: whether spot instances are used.
    :param max_wait_s: seconds to keep relaunching after interruptions, counted from the first launch, or None.
    :param max_runtime_s: the job's runtime limit.
    """
    if max_wait_s is None:
        return None
    if not use_spot:
        raise SpecError("max_wait_s", "is set without use_spot=True", "Set use_spot=True or drop max_wait_s")
    if int(max_wait_s) < int(max_runtime_s):
        raise SpecError(
            "max_wait_s",
            f"{max_wait_s} is shorter than max_runtime_s={max_runtime_s}",
            "Give max_wait_s >= max_runtime_s (the wait includes the run)",
        )
    return int(max_wait_s)


def check_reachable_from_ec2(locations: dict[str, str], image_uri: str) -> None:
    """Refuse the first location that exists only on this machine, then an image without a registry, naming it.

    :param locations: parameter name -> URI.
    :param image_uri: the image the instances pull.
    """
    for parameter, uri in locations.items():
        if not uri.startswith(REMOTE_SCHEMES):
            raise SpecError(
                parameter,
                f"{uri!r} is on this machine, which an EC2 instance cannot read",
                "Use an s3:// URI with compute='ec2' (or compute='local' for local folders)",
            )
    if not parse_image_ref(image_uri).registry:
        raise SpecError(
            "image_uri",
            f"{image_uri!r} names no registry, so an EC2 instance cannot pull it",
            "Push it with PushToECROperator and pass its repository@sha256:... URI",
        )
