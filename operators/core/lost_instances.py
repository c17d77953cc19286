"""When a job on EC2 counts as lost: none of its instances alive, for a grace period, and no final record."""

from __future__ import annotations

# How long instances may be gone while the record is not final before the job counts as lost (S3's visibility of a
# record written just before the instance shut down).
LOST_GRACE_S = 30.0
LOST_REASON = "its instances ended before the agent wrote a final record"


def track_gone(
    any_alive: bool, gone_since_s: float | None, now_s: float, grace_s: float = LOST_GRACE_S
) -> tuple[float | None, bool]:
    """Return since when no instance is alive (None while one is), and whether that has lasted grace_s.

    :param any_alive: whether one of the job's instances is pending or running now.
    :param gone_since_s: what the previous call returned (monotonic seconds), or None.
    :param now_s: the monotonic time now.
    :param grace_s: how long they may be gone before the job is lost.
    """
    if any_alive:
        return None, False
    since_s = now_s if gone_since_s is None else gone_since_s
    return since_s, now_s - since_s >= grace_s
