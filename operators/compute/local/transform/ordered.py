"""Map a function over items with bounded concurrency, yielding results in input order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


def ordered_map(
    fn: Callable[[In], Out], items: Iterable[In], executor: ThreadPoolExecutor, window: int
) -> Iterator[Out]:
    """Run fn over items with at most ``window`` calls in flight; memory stays bounded by the window.

    :param fn: the function (called in executor threads).
    :param items: the inputs, consumed lazily.
    :param executor: the pool to run on.
    :param window: the most calls in flight.
    """
    pending: deque[Future[Out]] = deque()
    try:
        for item in items:
            pending.append(executor.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
