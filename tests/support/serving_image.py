"""A stand-in for AWS's framework serving images (scikit-learn, PyTorch...): AWS's serving stack from PyPI, unchanged
(sagemaker-inference on multi-model-server, with a Java runtime from Debian), with no model code inside, so the code
comes from script mode (``code/`` in model.tar.gz, SAGEMAKER_PROGRAM) as on SageMaker; and a script-mode folder that
trains and serves, with a requirements.txt (installed offline from a wheel in the folder by the toolkits)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

from support.framework_image import TOOLKIT_WHEELS, add_bytes, script_mode_sources

SERVING_IMAGE = "ml-lifecycle-test/framework-serving:test"
SERVING_PACKAGES = ("sagemaker-inference==1.10.1", "multi-model-server==1.1.11", "setuptools<81", "pip")

# What AWS's sagemaker-inference images run as `serve`: the toolkit's model server with its default handler
# service, which loads the user's module named by SAGEMAKER_PROGRAM from /opt/ml/model/code.
SERVE = """#!/usr/bin/env python3
from sagemaker_inference import model_server

model_server.start_model_server()
"""

# One file that trains (run by sagemaker-training as the entry point) and serves (imported by sagemaker-inference as
# SAGEMAKER_PROGRAM), as the SDK's scikit-learn examples are written. It imports a dependency folder, which the
# training archive keeps at its root and the SDK's serving repack under code/lib/; loading the model writes into
# the code folder, as AWS's scikit-learn serving container does.
LIFECYCLE_SCRIPT = """
import json, os, sys
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import helpers, tinypkg

def model_fn(model_dir):
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "loaded-by-model-fn"), "w") as mark:
        mark.write("the code folder is writable")
    with open(os.path.join(model_dir, "weights.json")) as source:
        return json.load(source)

def input_fn(body, content_type):
    text = body.decode() if isinstance(body, (bytes, bytearray)) else body
    return [float(v) for v in text.split(",")]

def predict_fn(data, model):
    return model["scale"] * sum(data)

def output_fn(prediction, accept):
    return json.dumps({"prediction": prediction, "tiny": tinypkg.VALUE, "helper": helpers.answer()})

if __name__ == "__main__":
    channel = os.environ["SM_CHANNEL_TRAIN"]
    rows = sum(1 for name in os.listdir(channel) for _ in open(os.path.join(channel, name)))
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "weights.json"), "w") as out:
        json.dump({"scale": rows}, out)
    print("trained: scale", rows)
"""


def serving_image(docker_client: Any, base_image: str) -> str:
    """Build the serving image (Java from Debian's mirror, the Python wheels fetched on the host), once; return its tag.

    :param docker_client: a docker SDK client.
    :param base_image: the Debian-based python3.11 image the toolkit image uses.
    """
    dockerfile = f"""FROM {base_image}
RUN mkdir -p /usr/share/man/man1 && apt-get update -qq \\
    && apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null \\
    && rm -rf /var/lib/apt/lists/*
COPY wheels/ /tmp/wheels/
RUN set -eu; set -- /tmp/wheels/pip-*.whl; \\
    python3 "$1/pip" install --no-index --find-links /tmp/wheels --no-cache-dir --disable-pip-version-check \\
        --break-system-packages --root-user-action=ignore {" ".join(f"'{p}'" for p in SERVING_PACKAGES)}; \\
    rm -rf /tmp/wheels; rm -f /usr/lib/python3*/EXTERNALLY-MANAGED
COPY serve /usr/local/bin/serve
RUN chmod 755 /usr/local/bin/serve
ENV PYTHONUNBUFFERED=1
WORKDIR /
"""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        add_bytes(tar, "Dockerfile", dockerfile.encode())
        add_bytes(tar, "serve", SERVE.encode())
        for wheel in sorted(TOOLKIT_WHEELS.glob("*.whl")):
            tar.add(str(wheel), arcname=f"wheels/{wheel.name}")
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=SERVING_IMAGE, rm=True)
    return SERVING_IMAGE


def lifecycle_sources(root: Path) -> tuple[Path, Path]:
    """Write a folder that trains and serves (model.py, requirements.txt, a local wheel) and a dependency folder.

    :param root: where to write them.
    """
    return script_mode_sources(root, "model.py", LIFECYCLE_SCRIPT)
