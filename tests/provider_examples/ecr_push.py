"""Stands in for ``docker push`` into a repository of moto's ECR, which serves ECR's API but no registry: records the
engine's image in the repository with PutImage (a manifest naming the image's config and layers by their digests),
so the repository lists the image as after a push.

    python ecr_push.py <account>.dkr.ecr.<region>.amazonaws.com/<repository>[:<tag>]
"""

from __future__ import annotations

import json
import sys

import boto3
import docker

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar"  # uncompressed: the engine's layers as it keeps them


def record_image(repository_uri: str) -> str:
    """Record the engine's image of this name in its ECR repository; return the digest ECR gave it.

    :param repository_uri: the image's name, an ECR repository URI with an optional tag (``latest`` without).
    """
    name = repository_uri.split("/", 1)[1]
    repository, _, tag = name.partition(":")
    image = docker.from_env().images.get(repository_uri)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": image.id},
        "layers": [{"mediaType": LAYER_TYPE, "digest": d} for d in image.attrs["RootFS"]["Layers"]],
    }
    answer = boto3.client("ecr").put_image(
        repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag or "latest"
    )
    return answer["image"]["imageId"]["imageDigest"]


if __name__ == "__main__":
    print(record_image(sys.argv[1]))
