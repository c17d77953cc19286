"""A content hash of a build context (honouring .dockerignore), its Dockerfile and build args."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

HASH_TAG_CHARS = 16


def dockerignore_patterns(context_path: str) -> list[str]:
    """Read the context's .dockerignore patterns (comments and blank lines dropped).

    :param context_path: the build context folder.
    """
    path = os.path.join(context_path, ".dockerignore")
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip() and not line.lstrip().startswith("#")]


def context_hash(
    context_path: str,
    dockerfile: str,
    build_args: Mapping[str, str] | None,
    *,
    target: str | None = None,
    platform: str | None = None,
) -> str:
    """Hash every file the build would send (names, executable bits, contents), the Dockerfile, build args, stage
    and platform: what decides the image. Labels such as the creation time do not count.

    :param context_path: the build context folder.
    :param dockerfile: the Dockerfile path relative to the context.
    :param build_args: ARG values.
    :param target: the stage built, or None for the last.
    :param platform: the platform built for, or None for the engine's.
    """
    from docker.utils.build import exclude_paths

    digest = hashlib.sha256()
    for relative in sorted(exclude_paths(context_path, dockerignore_patterns(context_path), dockerfile=dockerfile)):
        full = os.path.join(context_path, relative)
        if os.path.islink(full):
            digest.update(f"L {relative} {os.readlink(full)}\n".encode())
        elif os.path.isfile(full):
            executable = os.access(full, os.X_OK)
            digest.update(f"F {relative} {int(executable)}\n".encode())
            with open(full, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    for key, value in sorted((build_args or {}).items()):
        digest.update(f"A {key}={value}\n".encode())
    digest.update(f"D {dockerfile}\n".encode())
    digest.update(f"T {target or ''}\nP {platform or ''}\n".encode())
    return digest.hexdigest()


def hash_tag(content_hash: str) -> str:
    """Return the image tag that names a content hash.

    :param content_hash: the full hex digest.
    """
    return f"ctx-{content_hash[:HASH_TAG_CHARS]}"
