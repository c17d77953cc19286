"""Make model archives for the example image without training: a known linear model."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path


def linear_model_archive(path: Path, weights: list[float], intercept: float = 0.0, version: str = "v1") -> str:
    """Write model.tar.gz holding model.json for the example image and return its file:// URI.

    :param path: the archive to write.
    :param weights: one weight per feature.
    :param intercept: the intercept.
    :param version: reported by the container in X-Model-Version.
    """
    model = {"weights": weights, "intercept": intercept, "n_features": len(weights), "target_column": 0}
    model["version"] = version
    data = json.dumps(model).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return f"file://{path}"
