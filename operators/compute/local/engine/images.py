"""The Docker engine's images: lookups (one request when that is all a caller needs) and pulls of missing ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ml_lifecycle.errors import EngineError, ImageNotFound

if TYPE_CHECKING:
    from ml_lifecycle.registries.pull_login import PullLogins

log = logging.getLogger(__name__)

ENGINE_HINT = "Start the engine (scripts/bootstrap.sh engine) or point DOCKER_HOST at one"


@dataclass(frozen=True)
class ImageInfo:
    """An image the engine has.

    :param ref: the reference as given.
    :param image_id: the engine's image id (``sha256:...`` of the config).
    :param digest: the repository digest (``repo@sha256:...``) when the image came from a registry, else "".
    """

    ref: str
    image_id: str
    digest: str


class EngineImages:
    """The image calls of DockerEngine (a mixin: it uses the engine's ``client`` and ``_client``)."""

    client: Any
    _client: Any

    def find_image(self, ref: str) -> ImageInfo | None:
        """Return the image if the engine has it, else None (nothing is pulled).

        :param ref: an image reference or id.
        """
        import docker

        try:
            self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return None
        return self.ensure_image(ref)

    def image_id(self, ref: str) -> str | None:
        """Return the id of the image a reference names, or None, in one request (nothing is pulled).

        BuildImage of an unchanged context asks only this. Before the first full connect it asks through a client
        pinned to API 1.24 (served by engines before 29), skipping the version negotiation and ping of a full
        connect, whose /version makes the engine query containerd and runc; an engine that refuses 1.24 is asked
        through the full client.

        :param ref: an image reference or id.
        """
        import docker

        connect = docker.utils.kwargs_from_env()
        quick = None if self._client is not None else docker.APIClient(version="1.24", timeout=60, **connect)
        for api in (quick, None):
            try:
                return (api or self.client.api).inspect_image(ref)["Id"]
            except docker.errors.ImageNotFound:
                return None
            except docker.errors.APIError as err:
                if api is None or err.status_code != 400:
                    raise EngineError(f"The engine failed to look up image {ref}: {err.explanation}") from err
            except docker.errors.DockerException as err:
                raise EngineError(f"Cannot reach the Docker engine ({err}). {ENGINE_HINT}") from err
            finally:
                if api is not None:
                    api.close()
        return None

    def ensure_image(self, ref: str, logins: PullLogins | None = None) -> ImageInfo:
        """Return the image, pulling it only when the engine does not have it.

        :param ref: an image reference (tag or digest).
        :param logins: where the pull's login comes from (an ECR token, a connection's login); None pulls anonymously.
        """
        import docker

        try:
            image = self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            image = self._pull(ref, logins)
        except docker.errors.APIError as err:
            raise EngineError(f"The engine failed to look up image {ref}: {err.explanation}") from err
        digests = image.attrs.get("RepoDigests") or []
        wanted = ref.split("@", 1)[0].rsplit(":", 1)[0] if "@" not in ref else ref.split("@", 1)[0]
        digest = next((d for d in digests if d.split("@", 1)[0] == wanted), digests[0] if digests else "")
        return ImageInfo(ref=ref, image_id=image.id, digest=digest)

    def _pull(self, ref: str, logins: PullLogins | None) -> Any:
        """Pull an image the engine lacks with its login; the error names the registry and the credentials tried.

        :param ref: the image reference.
        :param logins: where the login comes from, or None for an anonymous pull.
        """
        import docker

        from ml_lifecycle.core.image_ref import parse_image_ref
        from ml_lifecycle.registries.pull_login import anonymous

        login = logins.login_for(ref) if logins else anonymous(parse_image_ref(ref).registry or "docker.io")
        log.info("Image %s is not on the engine; pulling it from %s with %s", ref, login.registry, login.described)
        try:
            return self.client.images.pull(ref, auth_config=dict(login.auth_config) if login.auth_config else None)
        except docker.errors.APIError as err:
            raise ImageNotFound(
                f"The image {ref} is not on the Docker engine, and pulling it from {login.registry} with "
                f"{login.described} failed: {err.explanation}. {login.advice}"
            ) from err
