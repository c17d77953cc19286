"""A stand-in for AWS's framework images (scikit-learn, PyTorch...): the sagemaker-training toolkit from PyPI,
unchanged, with pip and no code baked in, so the code comes from script mode as on SageMaker; and a script-mode source
folder with a requirements.txt (installed offline from a wheel in the folder) and a dependency folder."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLKIT_WHEELS = REPO_ROOT / "examples" / "containers" / "toolkit" / "wheels"
FRAMEWORK_IMAGE = "ml-lifecycle-test/framework:test"

TRAIN_SCRIPT = """
import argparse, json, os, sys
import helpers, tinypkg

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
parser.add_argument("--name")
args = parser.parse_args()
rows = sum(1 for name in os.listdir(os.environ["SM_CHANNEL_TRAIN"])
           for _ in open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], name)))
with open(os.path.join(os.environ["SM_MODEL_DIR"], "result.json"), "w") as out:
    json.dump({"epochs": args.epochs, "name": args.name, "tiny": tinypkg.VALUE, "helper": helpers.answer(),
               "rows": rows, "cwd": os.getcwd(), "program": os.environ.get("SM_USER_ENTRY_POINT")}, out)
print("script mode trained on", rows, "rows")
"""


def framework_image(docker_client: Any, toolkit_image: str) -> str:
    """Build the framework-like image from the toolkit image (offline: pip from its wheel), once; return its tag.

    :param docker_client: a docker SDK client.
    :param toolkit_image: the toolkit image's tag.
    """
    wheel = next(TOOLKIT_WHEELS.glob("pip-*.whl"))
    dockerfile = f"""FROM {toolkit_image}
COPY {wheel.name} /tmp/{wheel.name}
RUN python3 /tmp/{wheel.name}/pip install --no-index --disable-pip-version-check --break-system-packages \\
        --root-user-action=ignore /tmp/{wheel.name} && rm /tmp/{wheel.name} && rm -rf /opt/ml/code \
    && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED
# (AWS's images install into their own Python, which pip may change: the toolkit pip-installs requirements.txt.)
# AWS's framework images set no program: script mode's sagemaker_program names it.
ENV SAGEMAKER_PROGRAM=
WORKDIR /
"""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        add_bytes(tar, "Dockerfile", dockerfile.encode())
        tar.add(str(wheel), arcname=wheel.name)
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=FRAMEWORK_IMAGE, rm=True)
    return FRAMEWORK_IMAGE


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """Add bytes to a tar as a file.

    :param tar: the archive.
    :param name: the member name.
    :param data: its content.
    """
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def script_mode_sources(root: Path, program: str = "train.py", script: str = TRAIN_SCRIPT) -> tuple[Path, Path]:
    """Write a source folder (the program, a requirements.txt, a local wheel) and a dependency folder; return both.

    :param root: where to write them.
    :param program: the program's file name.
    :param script: its code.
    """
    source = root / f"src-{Path(program).stem}"
    (source / "wheels").mkdir(parents=True)
    (source / program).write_text(script)
    (source / "requirements.txt").write_text("--no-index\n--find-links ./wheels\ntinypkg==1.0\n")
    write_wheel(source / "wheels" / "tinypkg-1.0-py3-none-any.whl")
    helpers = root / f"libs-{Path(program).stem}" / "helpers"
    helpers.mkdir(parents=True)
    (helpers / "__init__.py").write_text("def answer():\n    return 42\n")
    return source, helpers


def write_wheel(path: Path) -> None:
    """Write a minimal pure-Python wheel of a package ``tinypkg`` (VALUE = "tiny-ok"), as pip installs it offline.

    :param path: the wheel file.
    """
    files = {
        "tinypkg/__init__.py": b'VALUE = "tiny-ok"\n',
        "tinypkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
        "tinypkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for name, data in files.items()
    ]
    files["tinypkg-1.0.dist-info/RECORD"] = ("\n".join([*record, "tinypkg-1.0.dist-info/RECORD,,"]) + "\n").encode()
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
