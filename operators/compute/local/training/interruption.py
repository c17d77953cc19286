"""A job interrupted by its host going away (a spot reclaim): its record stays InProgress, to be resumed."""

from __future__ import annotations

from ml_lifecycle.core.status import SecondaryStatus
from ml_lifecycle.errors import MlLifecycleError

# SageMaker's secondary status for a managed spot job whose instance was reclaimed.
INTERRUPTED = SecondaryStatus.INTERRUPTED
# SIGTERM-to-SIGKILL time on an interruption: EC2 reclaims a spot instance 120 s after its notice, and the final
# checkpoint upload and the record need what is left.
INTERRUPT_GRACE_S = 75


class JobInterrupted(MlLifecycleError):
    """The host running the job is going away (a spot interruption notice) before its containers started."""
