"""Which API server process steps a background loop (a tuning job): a claim that only one process can hold at a time.

Claims are numbered documents beside the resource's own (``claims/<n>.json``). Taking the claim is creating the next
number with the store's conditional create (S3's If-None-Match, a hard link for files), so of two processes that
both saw the last claim lapse exactly one wins; holding it means having written the highest number while its lease
runs. The holder renews its own number; a process that finds a higher one has lost the claim and stops.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.api_server.process_owner import still_working, this_process
from ml_lifecycle.api_server.state import ApiState

FOLDER = "claims"


class ClaimLost(Exception):
    """Another process took the claim over: this one must not step (nor save) any more."""


@dataclass(frozen=True)
class Claim:
    """A claim this process holds.

    :param key: the resource's stored name.
    :param number: the claim's number.
    """

    key: str
    number: int


class StepperClaims:
    """Take, keep and give back the claims of one kind of resource, for one API object (a process, in effect).

    :param state: the API's stored resources.
    :param kind: the kind of resource (``tuning-jobs``).
    :param lease_s: how long a claim lasts without renewal, in seconds.
    """

    def __init__(self, state: ApiState, kind: str, lease_s: float) -> None:
        self.state, self.kind, self.lease_s = state, kind, lease_s
        self.token = uuid.uuid4().hex  # tells this API object's claims from another's in the same process

    def _latest(self, key: str) -> tuple[int, dict[str, Any]]:
        """Return the highest claim's number and holder, or (0, {}) when nobody ever claimed the resource.

        :param key: the resource's stored name.
        """
        numbers = [int(p.removesuffix(".json")) for p in self.state.parts(self.kind, key, FOLDER)]
        if not numbers:
            return 0, {}
        number = max(numbers)
        return number, self.state.get(self.kind, key, f"{FOLDER}/{number}.json") or {}

    def _holder(self, lease_s: float) -> dict[str, Any]:
        """Return this API object as a claim's holder, its lease ending lease_s from now.

        :param lease_s: the lease, in seconds.
        """
        return {**this_process(lease_s), "token": self.token}

    def take(self, key: str) -> Claim | None:
        """Take the claim unless a live process holds it; None when one does, or a rival took it first.

        :param key: the resource's stored name.
        """
        number, holder = self._latest(key)
        if holder and still_working(holder):
            return None
        claim = Claim(key, number + 1)
        if not self.state.create(self.kind, key, self._holder(self.lease_s), f"{FOLDER}/{claim.number}.json"):
            return None
        return claim

    def check(self, claim: Claim) -> None:
        """Raise ClaimLost when another process claimed the resource after this one.

        :param claim: the claim this process took.
        """
        number, holder = self._latest(claim.key)
        if number != claim.number or holder.get("token") != self.token:
            raise ClaimLost(f"{self.kind}/{claim.key} is claimed by {holder} (claim {number}) now")

    def holds(self, claim: Claim) -> bool:
        """Say whether this process still holds the claim (False too when that cannot be read now).

        :param claim: the claim this process took.
        """
        try:
            self.check(claim)
        except Exception:
            return False
        return True

    def renew(self, claim: Claim) -> None:
        """Extend the claim's lease, after checking it still holds.

        :param claim: the claim this process took.
        """
        self.check(claim)
        self.state.put(self.kind, claim.key, self._holder(self.lease_s), f"{FOLDER}/{claim.number}.json")

    def release(self, claim: Claim) -> None:
        """Let another process take the claim over at once (this one stops stepping).

        :param claim: the claim this process took.
        """
        self.check(claim)
        self.state.put(self.kind, claim.key, self._holder(0.0), f"{FOLDER}/{claim.number}.json")
