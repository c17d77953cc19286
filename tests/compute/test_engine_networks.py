"""The engine's named networks: one name held twice (a killed task's create landing beside its retry's) resolves to
the same network for every user, and lookups by name never take a network whose name merely contains it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine

pytestmark = pytest.mark.docker

LABELS = {"ml-lifecycle.managed": "true", "ml-lifecycle.test": "networks"}


@pytest.fixture
def name(docker_client: Any) -> Iterator[str]:
    """A network name of this test, whose networks (and its longer-named neighbour's) go at the end."""
    name = f"mlc-test-net-{os.getpid()}"
    yield name
    for network in docker_client.networks.list(names=[name]):
        for container in network.containers:
            network.disconnect(container, force=True)
        network.remove()


def _twins(docker_client: Any, name: str) -> list[Any]:
    """Create two networks of one name, as two processes racing past the engine's duplicate check do.

    :param docker_client: a docker SDK client.
    :param name: the name.
    """
    import docker

    first = docker_client.networks.create(name, labels=LABELS, check_duplicate=False)
    try:
        return [first, docker_client.networks.create(name, labels=LABELS, check_duplicate=False)]
    except docker.errors.APIError as err:
        if err.status_code == 409:
            pytest.skip("this Docker engine (25 or later) keeps network names unique: no twin can be made")
        raise


def test_a_name_held_twice_resolves_to_the_oldest_and_the_unused_twin_goes(docker_client, name):
    first, _ = _twins(docker_client, name)
    DockerEngine().ensure_named_network(name, LABELS)
    assert [n.id for n in DockerEngine().named_networks(name)] == [first.id]


def test_of_twins_the_one_a_container_uses_is_kept_and_the_other_goes(docker_client, name, example_image):
    _, second = _twins(docker_client, name)
    holder = docker_client.containers.run(example_image, entrypoint=["sleep", "60"], labels=LABELS, detach=True)
    try:
        second.connect(holder)  # as a container of the killed task's deploy would be
        DockerEngine().ensure_named_network(name, LABELS)
        assert [n.id for n in DockerEngine().named_networks(name)] == [second.id]
        # The name is no longer ambiguous: a container starts on it.
        docker_client.containers.run(example_image, entrypoint=["true"], network=name, remove=True)
    finally:
        holder.remove(force=True)


def test_no_network_creates_one_and_a_longer_name_that_contains_it_is_neither_found_nor_removed(docker_client, name):
    longer = docker_client.networks.create(f"{name}-longer", labels=LABELS)
    try:
        engine = DockerEngine()
        engine.ensure_named_network(name, LABELS)
        created = [n.id for n in engine.named_networks(name)]
        engine.ensure_named_network(name, LABELS)  # a second call finds it
        assert [n.id for n in engine.named_networks(name)] == created and len(created) == 1
        engine.remove_network(name)
        assert engine.named_networks(name) == []
        assert docker_client.networks.get(longer.id).name == f"{name}-longer"
    finally:
        longer.remove()


def test_a_twin_that_only_a_stopped_container_uses_is_kept(docker_client, name, example_image):
    _, second = _twins(docker_client, name)
    holder = docker_client.containers.run(example_image, entrypoint=["sleep", "60"], labels=LABELS, detach=True)
    try:
        second.connect(holder)
        holder.stop(timeout=0)  # a serving container between two restarts: attached, not running
        DockerEngine().ensure_named_network(name, LABELS)
        assert [n.id for n in DockerEngine().named_networks(name)] == [second.id]
    finally:
        holder.remove(force=True)
