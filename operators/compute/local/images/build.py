"""Build an image on the Docker engine, or reuse the one its content hash names (on the engine or in a registry)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ml_lifecycle.compute.local.engine.docker_engine import DockerEngine, ImageInfo
from ml_lifecycle.compute.local.images.context_hash import context_hash, hash_tag
from ml_lifecycle.errors import EngineError
from ml_lifecycle.registries.base import Registry

log = logging.getLogger(__name__)

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)")
TAIL_LINES = 20
HASH_LABEL = "ml-lifecycle.context-hash"


class BuildFailed(EngineError):
    """A docker build failed; the message names the failing step and its last lines of output."""


@dataclass(frozen=True)
class BuildRequest:
    """What to build.

    :param context_path: the build context folder.
    :param dockerfile: the Dockerfile path relative to the context.
    :param build_args: ARG values.
    :param target: the stage to build, or None for the last.
    :param platform: e.g. ``linux/amd64``, or None for the engine's.
    :param cache_from: images to pull and offer as layer cache (e.g. the previous push of this repository).
    :param secrets: secret id -> source (``env:NAME`` or a file) for ``RUN --mount=type=secret,id=...``.
    :param labels: extra image labels.
    :param source_path: the folder of the user's sources, for the OCI labels; default the context.
    :param source: the ``org.opencontainers.image.source`` URL; default the git remote of source_path.
    """

    context_path: str
    dockerfile: str = "Dockerfile"
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    platform: str | None = None
    cache_from: Sequence[str] = ()
    secrets: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    source_path: str = ""
    source: str | None = None

    def content_hash(self) -> str:
        """The hash that names what this request builds."""
        return context_hash(
            self.context_path, self.dockerfile, self.build_args, target=self.target, platform=self.platform
        )


@dataclass(frozen=True)
class BuildOutcome:
    """The image a BuildImage run hands on.

    :param image: ``repository:ctx-<hash>``.
    :param image_id: the engine's image id (the config digest).
    :param content_hash: the full content hash.
    :param built: False when an image of this hash existed and no build ran.
    :param found_in: ``engine`` or ``registry`` when reused, "" when built.
    :param image_uri: ``repository@sha256:...`` when the image was found in a registry, else "".
    """

    image: str
    image_id: str
    content_hash: str
    built: bool
    found_in: str = ""
    image_uri: str = ""


def reuse_or_build(
    engine: DockerEngine,
    request: BuildRequest,
    *,
    repository: str,
    registry: tuple[Registry, str] | None = None,
    prepare: Callable[[], None] | None = None,
    sink: Callable[[str], None] = log.info,
) -> BuildOutcome:
    """Return the image of this content hash from the engine or the registry, and build it only when neither has it.

    :param engine: the Docker engine.
    :param request: what to build.
    :param repository: the local repository name the hash tag goes on.
    :param registry: (registry, repository path in it) to look in before building, or None.
    :param prepare: called just before a build (e.g. to download wheels), not when the image is reused.
    :param sink: receives decisions and the build log.
    """
    content = request.content_hash()
    tag = hash_tag(content)
    image = f"{repository}:{tag}"
    found = engine.image_id(image)
    if found is not None:
        sink(f"The context is unchanged ({tag}): {image} is on the engine already, no build")
        return BuildOutcome(image, found, content, built=False, found_in="engine")
    if registry is not None:
        remote = registry[0].lookup(registry[1], tag)
        if remote is not None:
            uri = registry[0].repository_uri(registry[1])
            sink(f"The context is unchanged ({tag}): {uri}@{remote.digest} is in the registry, no build")
            return BuildOutcome(
                f"{uri}:{tag}", remote.config_digest, content, False, "registry", f"{uri}@{remote.digest}"
            )
    if prepare is not None:
        prepare()
    labels = {
        "org.opencontainers.image.revision": content,
        **oci_labels(request.source_path or request.context_path, request.source),
        **request.labels,
        HASH_LABEL: content,
    }
    info = build_image(engine, request, tag=image, labels=labels, sink=sink)
    return BuildOutcome(image, info.image_id, content, built=True)


def oci_labels(source_path: str, source: str | None = None) -> dict[str, str]:
    """The OCI annotations of a build: source, revision (the git commit; the content hash is used outside git) and
    created.

    :param source_path: the folder the user's sources are in (looked up in git).
    :param source: the source URL; None takes the git remote ``origin`` (or the folder).
    """
    commit = _git(source_path, "rev-parse", "HEAD")
    if commit and _git(source_path, "status", "--porcelain", "--", "."):
        commit += "-dirty"
    created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    labels = {
        "org.opencontainers.image.source": source or _git(source_path, "remote", "get-url", "origin") or source_path,
        "org.opencontainers.image.created": created,
    }
    return {**labels, "org.opencontainers.image.revision": commit} if commit else labels


def build_image(
    engine: DockerEngine,
    request: BuildRequest,
    *,
    tag: str,
    labels: Mapping[str, str],
    sink: Callable[[str], None] = log.info,
) -> ImageInfo:
    """Build and tag an image, streaming the log with the time each step starts.

    :param engine: the Docker engine.
    :param request: what to build.
    :param tag: ``repo:tag`` to give the image.
    :param labels: image labels.
    :param sink: receives each line of the build log.
    """
    import docker

    _pull_cache(engine, request.cache_from, sink)
    step, started = "(before the first step)", time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        with _secret_setup(request) as (dockerfile, extra):
            stream = engine.client.api.build(
                path=request.context_path,
                dockerfile=dockerfile,
                tag=tag,
                buildargs={**request.build_args, **extra.get("buildargs", {})},
                labels=dict(labels),
                target=request.target,
                platform=request.platform,
                cache_from=list(request.cache_from) or None,
                network_mode=extra.get("network_mode"),
                rm=True,
                forcerm=True,
                decode=True,
            )
            for event in stream:
                if "error" in event:
                    detail = (event.get("errorDetail") or {}).get("message") or event["error"]
                    raise BuildFailed(
                        f"Building {tag} failed at {step}: {detail.strip()}\n--- last lines of the build ---\n"
                        + "\n".join(tail)
                    )
                for line in event.get("stream", "").splitlines():
                    if not line.strip():
                        continue
                    match = _STEP.match(line)
                    if match:
                        step = f"step {match.group(1)}/{match.group(2)} ({match.group(3)})"
                        line = f"[{time.monotonic() - started:6.1f} s] {line}"
                    tail.append(line)
                    sink(line)
    except docker.errors.APIError as err:
        raise BuildFailed(f"Building {tag} failed: {err.explanation}. Check context_path and dockerfile") from err
    sink(f"Built {tag} in {time.monotonic() - started:.1f} s")
    return engine.ensure_image(tag)


def _pull_cache(engine: DockerEngine, refs: Sequence[str], sink: Callable[[str], None]) -> None:
    """Pull the cache_from images; one that cannot be pulled only costs cache hits.

    :param engine: the Docker engine.
    :param refs: image references.
    :param sink: receives a line per image.
    """
    import docker

    for ref in refs:
        try:
            engine.client.images.pull(ref)
            sink(f"Pulled {ref} as layer cache")
        except docker.errors.APIError as err:
            sink(f"Could not pull {ref} as layer cache ({err.explanation}); building without it")


@contextlib.contextmanager
def _secret_setup(request: BuildRequest) -> Iterator[tuple[str, dict]]:
    """Yield the Dockerfile to build and extra build parameters; with secrets, a rewritten Dockerfile and a server.

    :param request: what to build.
    """
    if not request.secrets:
        yield request.dockerfile, {}
        return
    from ml_lifecycle.compute.local.images.build_secrets import URL_ARG, read_secrets, rewrite_dockerfile, serve_secrets

    values = read_secrets(request.secrets)
    with open(os.path.join(request.context_path, request.dockerfile), encoding="utf-8") as handle:
        text, _used = rewrite_dockerfile(handle.read(), set(values))
    with tempfile.TemporaryDirectory(prefix="ml-lifecycle-build-") as folder, serve_secrets(values) as url:
        # Outside the context: the docker SDK sends it under a private name, the context stays as it is.
        path = os.path.join(folder, "Dockerfile")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        yield path, {"buildargs": {URL_ARG: url}, "network_mode": "host"}


def _git(folder: str, *args: str) -> str:
    """Run a git query in a folder; "" when it is not a repository or git is missing.

    :param folder: the folder.
    :param args: the git arguments.
    """
    try:
        done = subprocess.run(["git", "-C", folder, *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
