"""Stage a Dockerfile template with the user's code into a build context, and fetch its requirements as wheels."""

from __future__ import annotations

import importlib.resources
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.errors import EngineError, SpecError

RUNNER_FILES = ("sm_entry.py", "sm_train.py", "sm_serve.py")
WRAPPER = '#!/bin/sh\nexec {python} /opt/ml-lifecycle/bin/sm_entry.py {command} "$@"\n'
PROBE = "import platform, sys; print('%d.%d' % sys.version_info[:2], platform.libc_ver()[1], platform.machine())"


@dataclass(frozen=True)
class Template:
    """A Dockerfile template and the files it needs in the user's folder.

    :param name: the template name users pass.
    :param trains: the image trains (a training script is required).
    """

    name: str
    trains: bool


TEMPLATES = {
    "python-script": Template("python-script", trains=True),
    "python-inference": Template("python-inference", trains=False),
}
DEFAULTS = {"base_image": "python:3.11-slim", "program": "train.py", "inference": "inference.py", "python": "python3"}


def template_variables(template: str, variables: Mapping[str, str] | None) -> dict[str, str]:
    """Check the template name and variable names; return the variables with defaults filled in.

    :param template: the template name.
    :param variables: overrides of DEFAULTS (base_image, program, inference, python).
    """
    if template not in TEMPLATES:
        raise SpecError("template", f"{template!r} is not a template", f"Use one of {sorted(TEMPLATES)}")
    unknown = set(variables or {}) - set(DEFAULTS)
    if unknown:
        raise SpecError("template_vars", f"unknown names {sorted(unknown)}", f"Use only {sorted(DEFAULTS)}")
    return {**DEFAULTS, **(variables or {})}


def stage(template: str, source: str, dest: str, variables: Mapping[str, str]) -> bool:
    """Copy the user's folder to ``dest/code`` (honouring its .dockerignore), add the runner, render the Dockerfile.

    Return whether the folder has requirements (then call ``download_wheels`` before building).

    :param template: the template name.
    :param source: the user's folder (training script, inference module, requirements.txt).
    :param dest: an empty folder that becomes the build context.
    :param variables: the template variables (from template_variables).
    """
    import jinja2
    from docker.utils.build import exclude_paths

    from ml_lifecycle.compute.local.images.context_hash import dockerignore_patterns

    spec = TEMPLATES[template]
    names = {"inference": variables["inference"], **({"program": variables["program"]} if spec.trains else {})}
    for parameter, name in names.items():
        if not os.path.isfile(os.path.join(source, name)):
            raise SpecError(
                "context_path",
                f"{source} has no {name} for the {template} template",
                f"Add it, or name the file with template_vars={{'{parameter}': ...}}",
            )
    for relative in sorted(exclude_paths(source, dockerignore_patterns(source))):
        origin, target = os.path.join(source, relative), os.path.join(dest, "code", relative)
        if os.path.isfile(origin) or os.path.islink(origin):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(origin, target, follow_symlinks=False)
    runner = os.path.join(dest, "_ml_lifecycle")
    os.makedirs(runner)
    package = importlib.resources.files("ml_lifecycle") / "templates"
    for name in RUNNER_FILES:
        with open(os.path.join(runner, name), "wb") as handle:
            handle.write((package / name).read_bytes())
    for command in ("train", "serve"):
        path = os.path.join(runner, command)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(WRAPPER.format(python=variables["python"], command=command))
        os.chmod(path, 0o755)
    requirements = _has_requirements(os.path.join(dest, "code", "requirements.txt"))
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (package / name).read_text(encoding="utf-8")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    text = environment.get_template(f"{template}.Dockerfile.j2").render(
        template=template, requirements=requirements, **{**variables, "program": names.get("program", "")}
    )
    with open(os.path.join(dest, "Dockerfile"), "w", encoding="utf-8") as handle:
        handle.write(text)
    return requirements


def download_wheels(engine: Any, context: str, variables: Mapping[str, str], sink: Callable[[str], None]) -> None:
    """Download the requirements (and pip itself) as wheels for the base image's Python, libc and machine.

    :param engine: the Docker engine (the base image is asked for its Python version, libc and machine).
    :param context: the staged build context (``code/requirements.txt`` in it; wheels go to ``wheels/``).
    :param variables: the template variables (base_image and python are used).
    :param sink: receives progress lines.
    """
    import docker

    try:
        probe = engine.client.containers.run(
            variables["base_image"], ["-c", PROBE], entrypoint=[variables["python"]], remove=True
        )
    except docker.errors.DockerException as err:
        raise EngineError(
            f"Cannot run {variables['python']} in the base image {variables['base_image']} ({err}). Build or pull "
            "it first (scripts/bootstrap.sh base-image), or set template_vars base_image and python"
        ) from err
    version, glibc, machine = probe.decode().split()
    glibc_minor = int(glibc.split(".")[1]) if glibc.startswith("2.") else 17
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(glibc_minor, 16, -1)]
    platforms += [f"manylinux2014_{machine}", f"manylinux2010_{machine}", f"manylinux1_{machine}"]
    abi = "cp" + version.replace(".", "")
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--only-binary=:all:", "--implementation", "cp", "--python-version", version, "--abi", abi,
               *[arg for p in platforms for arg in ("--platform", p)], "--dest", os.path.join(context, "wheels"),
               "-r", os.path.join(context, "code", "requirements.txt"), "pip"]  # fmt: skip
    shipped = os.path.join(context, "code", "wheels")
    if os.path.isdir(shipped):  # wheels the user ships with the code are preferred
        command += ["--find-links", shipped]
    sink(f"Downloading the requirements as wheels for CPython {version}, glibc {glibc}, {machine}")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise EngineError(
            f"pip could not download the requirements as wheels for the image's Python {version} ({machine}):\n"
            f"{done.stderr.strip()[-1500:]}\nPin versions that publish wheels, or ship the wheels in the folder"
        )
    sink(f"Downloaded {len(os.listdir(os.path.join(context, 'wheels')))} wheels")


def _has_requirements(path: str) -> bool:
    """Say whether a requirements file names anything.

    :param path: the file.
    """
    if not os.path.isfile(path):
        return False
    with open(path, encoding="utf-8") as handle:
        return any(line.strip() and not line.lstrip().startswith("#") for line in handle)
