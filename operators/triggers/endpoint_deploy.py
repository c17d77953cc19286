"""EndpointDeployTrigger: wait, without a worker slot, for a deploy's new revision to boot or get through a step."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

# Airflow's timeout of a deferral comes after the trigger's own deadline, which ends the wait with a reason: Airflow's
# would fail the task without resuming it, so nothing would roll back.
DEFER_MARGIN_S = 300.0
# How long past the deadline one check may take before the wait ends as failed (well inside DEFER_MARGIN_S).
CHECK_GRACE_S = 60.0
CHECK_ERRORS_IN_A_ROW = 3  # a throttled or briefly unavailable AWS API is asked again; three failures end the wait


class EndpointDeployTrigger(BaseTrigger):
    """Ask the endpoint's backend, every poll, how the awaited boot or traffic step goes, until it is ok or failed.

    :param compute: the backend that runs the endpoint (see ``ml_lifecycle.compute``).
    :param aws_conn_id: the Airflow AWS connection.
    :param options: the deploy's backend options (the rollout policy, state_uri...), as the operator rendered them.
    :param endpoint_name: the endpoint's name.
    :param what: what is awaited, for the log.
    :param progress: where the rollout stands, as the backend records it.
    :param deadline_epoch_s: when the wait gives up (the event is then ``failed``).
    :param poll_interval_s: seconds between checks.
    :param check_grace_s: how long past the deadline one check may take before the wait ends as failed.
    """

    def __init__(
        self,
        compute: str,
        aws_conn_id: str | None,
        options: Mapping[str, Any],
        endpoint_name: str,
        what: str,
        progress: Mapping[str, Any],
        deadline_epoch_s: float,
        poll_interval_s: float = 5.0,
        check_grace_s: float = CHECK_GRACE_S,
    ) -> None:
        super().__init__()
        self.compute = compute
        self.aws_conn_id = aws_conn_id
        self.options = dict(options)
        self.endpoint_name = endpoint_name
        self.what = what
        self.progress = dict(progress)
        self.deadline_epoch_s = deadline_epoch_s
        self.poll_interval_s = poll_interval_s
        self.check_grace_s = check_grace_s
        self._endpoints: Any = None

    @classmethod
    def waiting_for(
        cls, wait: Any, compute: str, aws_conn_id: str | None, options: Mapping[str, Any], poll_interval_s: float
    ) -> EndpointDeployTrigger:
        """Return the trigger for what a backend says a deferred deploy waits for.

        :param wait: the backend's DeployWait.
        :param compute: the backend's name.
        :param aws_conn_id: the Airflow AWS connection.
        :param options: the deploy's backend options.
        :param poll_interval_s: seconds between checks.
        """
        return cls(
            compute,
            aws_conn_id,
            options,
            wait.endpoint_name,
            wait.what,
            wait.progress,
            wait.deadline_epoch_s,
            poll_interval_s,
        )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and the primitive arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "compute": self.compute,
                "aws_conn_id": self.aws_conn_id,
                "options": self.options,
                "endpoint_name": self.endpoint_name,
                "what": self.what,
                "progress": self.progress,
                "deadline_epoch_s": self.deadline_epoch_s,
                "poll_interval_s": self.poll_interval_s,
                "check_grace_s": self.check_grace_s,
            },
        )

    def resume_kwargs(self) -> dict[str, Any]:
        """Return what the resumed task's execute_complete gets besides the event: the wait, as data."""
        wait = {"endpoint_name": self.endpoint_name, "what": self.what, "progress": self.progress}
        return {"wait": {**wait, "deadline_epoch_s": self.deadline_epoch_s}}

    def timeout(self) -> timedelta:
        """Return Airflow's timeout of the deferral: after the trigger's own deadline."""
        return timedelta(seconds=max(self.deadline_epoch_s - time.time(), 0.0) + DEFER_MARGIN_S)

    def _check(self) -> tuple[str, str]:
        """Ask the backend once (blocking; run in a thread)."""
        from ml_lifecycle.compute import backend_for
        from ml_lifecycle.compute.endpoint_interface import DeployWait

        if self._endpoints is None:
            self._endpoints = backend_for(self.compute, self.aws_conn_id, self.options).endpoints()
        wait = DeployWait(self.endpoint_name, self.what, self.progress, self.deadline_epoch_s)
        status, reason = self._endpoints.check_deploy(wait)
        return str(status), str(reason)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield exactly one event: ``ok`` or ``failed``, with the reason.

        A check that raises CHECK_ERRORS_IN_A_ROW times in a row (one throttled call is retried at the next poll), or
        that does not answer by the deadline, ends the wait as ``failed`` too: the task then resumes and rolls back as
        for a failed check (Airflow's own failure or timeout would not resume it).
        """
        self.log.info("Waiting for %s", self.what)
        last, errors = "", 0
        while True:
            answer_within_s = max(self.deadline_epoch_s - time.time(), 0.0) + self.check_grace_s
            try:
                status, reason = await asyncio.wait_for(asyncio.to_thread(self._check), answer_within_s)
            except TimeoutError:
                why = f"{self.what}: a check did not answer by the deadline (plus {self.check_grace_s:g} s)"
                yield self._event("failed", why)
                return
            except Exception as err:
                errors += 1
                why = f"{self.what}: a check failed ({type(err).__name__}: {err})"
                if errors >= CHECK_ERRORS_IN_A_ROW or time.time() > self.deadline_epoch_s:
                    yield self._event("failed", f"{why}, {errors} time(s) in a row")
                    return
                self.log.warning("%s; checking again in %g s", why, self.poll_interval_s)
                await asyncio.sleep(self.poll_interval_s)
                continue
            errors = 0
            if status in ("ok", "failed"):
                yield self._event(status, reason)
                return
            if time.time() > self.deadline_epoch_s:
                yield self._event("failed", f"{self.what} did not happen by the deadline ({reason})")
                return
            if reason != last:
                self.log.info("%s", reason)
                last = reason
            await asyncio.sleep(self.poll_interval_s)

    def _event(self, status: str, reason: str) -> TriggerEvent:
        """Return the wait's one event.

        :param status: ``ok`` or ``failed``.
        :param reason: why, or how it went.
        """
        return TriggerEvent({"status": status, "reason": reason, "endpoint_name": self.endpoint_name})
