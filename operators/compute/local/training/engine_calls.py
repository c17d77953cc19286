"""Engine calls of a job's hosts run side by side: all at once, or one in the background to be looked at later."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


def in_parallel(calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run calls in threads and return key -> result once all ended; raises the first error in the calls' order.

    :param calls: key -> a call without arguments.
    """
    if len(calls) <= 1:
        return {key: call() for key, call in calls.items()}
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="engine") as pool:
        futures = {key: pool.submit(call) for key, call in calls.items()}
    for future in futures.values():
        error = future.exception()
        if error is not None:
            raise error
    return {key: future.result() for key, future in futures.items()}


def in_background(call: Callable[[], Any]) -> Future[Any]:
    """Start a call in a thread of its own and return its future (errors stay in it, to be looked at or not).

    :param call: a call without arguments.
    """
    future: Future[Any] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as err:  # kept for the caller, which decides whether it matters
            future.set_exception(err)

    threading.Thread(target=run, name="engine-background", daemon=True).start()
    return future


def succeeded(future: Future[Any] | None) -> bool:
    """Wait for a background call and say whether it ended without error (False when there was none).

    :param future: the call's future, or None.
    """
    if future is None:
        return False
    if future.exception() is not None:
        log.debug("A background engine call failed (it is done again): %s", future.exception())
        return False
    return True
