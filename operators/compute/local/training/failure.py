"""Why a training job did not complete, in the words of the host that failed first."""

from __future__ import annotations

from ml_lifecycle.compute.local.container_files import read_container_file
from ml_lifecycle.compute.local.training.host_watch import WatchResult
from ml_lifecycle.core import contract
from ml_lifecycle.core.status import exit_reason

FAILURE_FILE_MAX_BYTES = 1 << 20  # contract.failure_reason keeps far less; a huge file is not read whole


def failure_reason_of(
    layouts: dict[str, contract.HostLayout],
    remote_reasons: dict[str, str],
    watched: WatchResult,
    max_runtime_s: int,
) -> str:
    """Take the failure reason from the first host that wrote /opt/ml/output/failure, else explain the exit.

    :param layouts: host -> layout, for the hosts that ran here.
    :param remote_reasons: host -> failure reason, for failed hosts that ran elsewhere.
    :param watched: how the hosts ended.
    :param max_runtime_s: the runtime limit, for the message.
    """
    for host in sorted({*layouts, *remote_reasons}):
        written = read_container_file(layouts[host].failure_file, FAILURE_FILE_MAX_BYTES) if host in layouts else None
        text = remote_reasons.get(host, "")
        if written is not None:
            text = contract.failure_reason(written.decode(errors="replace"))
        if text:
            return text
    if watched.max_runtime_exceeded:
        return f"The job ran past max_runtime_s={max_runtime_s} and was stopped"
    if watched.stopped:
        return "The job was stopped on request"
    return exit_reason(watched.worst_exit_code, oom_killed=bool(watched.oom_killed))
