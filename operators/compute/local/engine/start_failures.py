"""Why the engine could not start a container, said with what to change in the image."""

from __future__ import annotations

from collections.abc import Sequence


def explain_start_failure(
    image: str, command: Sequence[str] | None, entrypoint: Sequence[str] | None, text: str
) -> str:
    """Turn the engine's start error into a message that says how to fix it.

    :param image: the image.
    :param command: the command given.
    :param entrypoint: the entrypoint override given.
    :param text: the engine's explanation.
    """
    if "executable file not found" in text or "no such file or directory" in text:
        what = " ".join(entrypoint or command or [])
        return (
            f"The image {image} cannot run {what!r}: {text}. SageMaker starts training images as "
            "`docker run <image> train` and serving images with `serve`: put an executable named so on the image's "
            "PATH, or set an exec-form ENTRYPOINT that accepts it"
        )
    return f"The Docker engine could not start a container from {image}: {text}"
