"""shard_round_robin: a deterministic partition of sorted keys over hosts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_lifecycle.core.sharding import shard_round_robin

PROPERTY = settings(deadline=None, max_examples=300)


@pytest.mark.parametrize(
    ("items", "hosts", "shares"),
    [
        pytest.param(["a", "b", "c", "d", "e"], 2, [["a", "c", "e"], ["b", "d"]], id="five-over-two"),
        pytest.param(["a", "b", "c"], 1, [["a", "b", "c"]], id="one-host-gets-all"),
        pytest.param(["a", "b"], 4, [["a"], ["b"], [], []], id="more-hosts-than-objects-idle"),
        pytest.param([], 3, [[], [], []], id="no-objects"),
        pytest.param(["k1", "k2", "k3", "k4", "k5", "k6"], 3, [["k1", "k4"], ["k2", "k5"], ["k3", "k6"]], id="even"),
    ],
)
def test_shard_round_robin(items: list[str], hosts: int, shares: list[list[str]]) -> None:
    assert shard_round_robin(items, hosts) == shares


@given(st.lists(st.integers(min_value=0, max_value=20), max_size=200), st.integers(min_value=1, max_value=40))
@PROPERTY
def test_shard_round_robin_is_a_fair_ordered_partition(values: list[int], host_count: int) -> None:
    # Pair each value with its index so duplicates stay distinguishable.
    items = list(enumerate(values))
    shares = shard_round_robin(items, host_count)
    assert len(shares) == host_count
    assert sorted(item for share in shares for item in share) == items
    for share in shares:
        assert share == sorted(share)
    sizes = [len(share) for share in shares]
    assert max(sizes) - min(sizes) <= 1
    for host, share in enumerate(shares):
        assert all(index % host_count == host for index, _ in share)
    assert shard_round_robin(items, host_count) == shares
