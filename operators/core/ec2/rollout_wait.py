"""Where a deferred EC2 deploy stands while the triggerer waits: the revision, the phase and the step (JSON-safe)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# A new revision boots until its targets are healthy; then each traffic step (a canary's, a linear step, the bake at
# 100 %) is watched for its wait.
HEALTHY = "healthy"
WATCH = "watch"


@dataclass(frozen=True)
class RolloutWait:
    """What a deferred deploy waits for, and what it resumes from.

    :param endpoint_name: the endpoint's name.
    :param state_uri: the endpoint's state prefix.
    :param revision: the revision being rolled out.
    :param phase: ``healthy`` (until its targets are healthy) or ``watch`` (a traffic step watched for its wait).
    :param step: the traffic step being watched (from 0), or -1 while booting.
    :param until_epoch_s: healthy: the deadline of the boot; watch: when the step's watch ends.
    :param since_epoch_s: when the revision started taking requests (its error rate's window), or when it launched.
    """

    endpoint_name: str
    state_uri: str
    revision: str
    phase: str
    step: int
    until_epoch_s: float
    since_epoch_s: float

    def to_dict(self) -> dict[str, Any]:
        """Return the wait as JSON-safe data (the trigger's and the resumed task's argument)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RolloutWait:
        """Read a wait written by to_dict.

        :param data: the wait as data.
        """
        return cls(**data)

    def describe(self) -> str:
        """Say what is awaited, for the task log."""
        if self.phase == HEALTHY:
            return f"revision {self.revision} of endpoint {self.endpoint_name} to become healthy"
        return f"revision {self.revision} of endpoint {self.endpoint_name} through traffic step {self.step + 1}"
