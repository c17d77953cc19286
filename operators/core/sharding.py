"""Assign input objects to hosts: ShardedByS3Key and transform splitting, deterministically."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def shard_round_robin(items: Sequence[T], host_count: int) -> list[list[T]]:
    """Deal items sorted by key to hosts in turn: item i goes to host i mod N.

    SageMaker documents only "about 1/N of the objects" per host; dealing in key order is our rule, and it keeps
    the assignment stable for a given listing.

    :param items: the objects, already sorted by key.
    :param host_count: the number of hosts (at least 1).
    """
    shares: list[list[T]] = [[] for _ in range(host_count)]
    for index, item in enumerate(items):
        shares[index % host_count].append(item)
    return shares
