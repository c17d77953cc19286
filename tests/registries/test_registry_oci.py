"""OCI registries for real: Debian's distribution registry on 127.0.0.1, without and with htpasswd authentication."""

from __future__ import annotations

import pytest
from support.helpers import task_context

from ml_lifecycle import ImageInRegistrySensor, PushToECROperator
from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine
from ml_lifecycle.compute.local.images.publish import publish
from ml_lifecycle.errors import RegistryError
from ml_lifecycle.registries.credentials import Credentials
from ml_lifecycle.registries.oci import OciRegistry

pytestmark = pytest.mark.docker


def test_publish_pushes_once_and_the_registry_confirms_by_tag_and_digest(
    registry, small_image, docker_client, fresh_repository
):
    repository, lines = fresh_repository(), []
    oci = OciRegistry(registry)
    first = publish(DockerEngine(docker_client), oci, image=small_image, repository=repository, tag="v1",
                    sink=lines.append)  # fmt: skip
    second = publish(DockerEngine(docker_client), oci, image=small_image, repository=repository, tag="v1",
                     sink=lines.append)  # fmt: skip

    assert first.pushed and not second.pushed
    assert first.image_uri == second.image_uri == f"{registry}/{repository}@{first.digest}"
    assert any("nothing to push" in line for line in lines)
    by_tag, by_digest = oci.lookup(repository, "v1"), oci.lookup(repository, first.digest)
    assert by_tag == by_digest and by_tag is not None
    assert by_tag.digest == first.digest
    assert by_tag.config_digest == docker_client.images.get(small_image).id


def test_missing_tags_and_repositories_are_none(registry, fresh_repository):
    assert OciRegistry(registry).lookup(fresh_repository(), "v1") is None


def test_an_unreachable_registry_says_how_to_fix_it():
    with pytest.raises(RegistryError, match=r"Cannot reach the registry at http://127\.0\.0\.1:9"):
        OciRegistry("127.0.0.1:9").lookup("x/y", "v1")


def test_auth_registry_refuses_anonymous_and_wrong_passwords(auth_registry):
    with pytest.raises(RegistryError, match=r"needs a login.*registry_conn_id"):
        OciRegistry(auth_registry.host).lookup("x/y", "v1")
    wrong = Credentials(auth_registry.username, "not-the-password")
    with pytest.raises(RegistryError, match="refused access"):
        OciRegistry(auth_registry.host, wrong).lookup("x/y", "v1")


def test_push_with_connection_credentials_then_nothing_to_push(
    auth_registry, registry_conn, small_image, fresh_repository
):
    repository = fresh_repository()

    def push() -> dict:
        return PushToECROperator(
            task_id="push", image=small_image, repository=repository, tag="v1", registry=auth_registry.host,
            registry_conn_id=registry_conn,
        ).execute(task_context())  # fmt: skip

    first, second = push(), push()

    assert first["pushed"] is True and second["pushed"] is False
    assert first["image_uri"] == second["image_uri"]
    assert first["image_uri"].startswith(f"{auth_registry.host}/{repository}@sha256:")
    credentials = Credentials(auth_registry.username, auth_registry.password)
    found = OciRegistry(auth_registry.host, credentials).lookup(repository, "v1")
    assert found is not None and found.digest == first["digest"]


def test_a_push_with_a_wrong_password_fails_with_a_hint(auth_registry, small_image, monkeypatch, fresh_repository):
    monkeypatch.setenv(
        "AIRFLOW_CONN_BAD_REGISTRY", f'{{"conn_type": "docker", "login": "{auth_registry.username}", "password": "x"}}'
    )
    operator = PushToECROperator(
        task_id="push", image=small_image, repository=fresh_repository(), registry=auth_registry.host,
        registry_conn_id="bad_registry",
    )  # fmt: skip
    with pytest.raises(RegistryError, match="refused access"):
        operator.execute(task_context())


def test_sensor_waits_for_the_image_then_hands_it_on_by_digest(
    auth_registry, registry_conn, small_image, fresh_repository
):
    repository = fresh_repository()
    image = f"{auth_registry.host}/{repository}:v1"
    sensor = ImageInRegistrySensor(task_id="wait", image=image, registry_conn_id=registry_conn)
    assert sensor.poke(task_context()).is_done is False

    pushed = PushToECROperator(
        task_id="push", image=small_image, repository=repository, tag="v1", registry=auth_registry.host,
        registry_conn_id=registry_conn,
    ).execute(task_context())  # fmt: skip
    answer = sensor.poke(task_context())

    assert answer.is_done is True
    assert answer.xcom_value == {"image_uri": pushed["image_uri"], "digest": pushed["digest"]}
