"""When a job counts as lost: nothing that runs it alive (its agent, its instances), for a grace period, no final record."""

from __future__ import annotations

# How long what runs a job may be gone while its record is not final before the job counts as lost (S3's visibility
# of a record written just before an instance shut down).
LOST_GRACE_S = 30.0
LOST_REASON = "its instances ended before the agent wrote a final record"
AGENT_LOST_REASON = "its agent process ended before it wrote a final record (it was killed, or its host restarted)"


def track_gone(
    any_alive: bool, gone_since_s: float | None, now_s: float, grace_s: float = LOST_GRACE_S
) -> tuple[float | None, bool]:
    """Return since when nothing runs the job (None while something does), and whether that has lasted grace_s.

    :param any_alive: whether what runs the job (an agent, one of its instances) is alive now.
    :param gone_since_s: what the previous call returned (monotonic seconds), or None.
    :param now_s: the monotonic time now.
    :param grace_s: how long it may be gone before the job is lost.
    """
    if any_alive:
        return None, False
    since_s = now_s if gone_since_s is None else gone_since_s
    return since_s, now_s - since_s >= grace_s
