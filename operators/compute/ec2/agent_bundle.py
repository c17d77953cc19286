"""Build the instance agent bundle: a deterministic tar.gz whose root is a PYTHONPATH folder, from installed code.

It holds ``ml_lifecycle`` without its Airflow glue, and the pure Python parts of boto3, botocore (its service
data pruned to the services the agent calls), s3transfer, jmespath, dateutil, six, urllib3, docker, requests, idna,
certifi, charset_normalizer, jinja2 and markupsafe, and the endpoint proxy's build context
(``docker/endpoint-proxy``, where proxy_config finds it beside the package: an endpoint that captures data runs the
local endpoints' proxy in front of its model). Nothing is downloaded; compiled extensions are left out (every library listed has a
pure Python path), so the bundle runs on any CPython >= 3.11 of any architecture.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import importlib.util
import io
import os
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ml_lifecycle.errors import MlLifecycleError

BUNDLE_FORMAT = "1"  # bump when the layout or the selection rules change
FIXED_MTIME = 1_600_000_000  # every member's mtime, so equal contents give equal bytes

LIBRARIES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
    "docker",
    "requests",
    "idna",
    "certifi",
    "charset-normalizer",
    "jinja2",  # the endpoint proxy's nginx configuration
    "markupsafe",
)
# The AWS services the agent calls; the service models of every other one stay out of the bundle.
SERVICES = frozenset({"s3", "ec2", "ecr", "logs", "sts", "ssm", "secretsmanager", "autoscaling"})
# botocore/data files needed to build any client: endpoint resolution, partitions, defaults, retry rules.
BOTOCORE_DATA_FILES = frozenset({"endpoints.json", "partitions.json", "sdk-default-configuration.json", "_retry.json"})
# ml_lifecycle parts the agent runs; the operators, sensors, triggers, plugin and UI (Airflow glue) stay out.
PACKAGE_MODULES = frozenset({"__init__.py", "errors.py", "aws_clients.py", "settings.py", "py.typed"})
PACKAGE_FOLDERS = frozenset({"core", "agent", "compute", "stores", "registries", "secret_sources"})
EXCLUDED_PACKAGE_FOLDERS = frozenset({"compute/ec2"})  # the launch side runs on the Airflow worker only
PROXY_FOLDER = "docker/endpoint-proxy"  # in the bundle: proxy_config's parents[4] is the bundle's root
COMPILED_SUFFIXES = (".so", ".pyd", ".dylib", ".dll", ".pyc", ".pyo")
KEPT_DIST_INFO = frozenset({"METADATA", "top_level.txt"})


class BundleError(MlLifecycleError):
    """The agent bundle cannot be built from what is installed."""


def build_agent_bundle(cache_dir: Path) -> Path:
    """Return the agent bundle, building it into cache_dir unless one with the same content hash is there.

    :param cache_dir: where bundles are kept, named ``agent-<content hash>.tar.gz``.
    """
    members = dict(sorted(bundle_members().items()))
    digest = hashlib.sha256(BUNDLE_FORMAT.encode())
    for name, source in members.items():
        digest.update(f"\0{name}\0".encode())
        digest.update(source.read_bytes())
    target = cache_dir / f"agent-{digest.hexdigest()[:16]}.tar.gz"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=".agent-", suffix=".tmp", delete=False) as scratch:
        try:
            write_bundle(members, scratch)
            scratch.close()
            os.replace(scratch.name, target)
        except BaseException:
            os.unlink(scratch.name)
            raise
    return target


def write_bundle(members: dict[str, Path], out: io.BufferedIOBase | object) -> None:
    """Write members as a gzip tar with fixed metadata (owner, mode, mtime, order), so its bytes are reproducible.

    :param members: name in the bundle -> source file.
    :param out: a binary file object to write to.
    """
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as zipped,  # type: ignore[arg-type]
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for folder in sorted({str(parent) for name in members for parent in PurePosixPath(name).parents} - {"."}):
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, FIXED_MTIME
            tar.addfile(info)
        for name, source in sorted(members.items()):
            data = source.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, FIXED_MTIME
            tar.addfile(info, io.BytesIO(data))


def bundle_members() -> dict[str, Path]:
    """Return name in the bundle -> installed source file, for ml_lifecycle and every library."""
    members = dict(_package_members())
    members.update(_proxy_members())
    for library in LIBRARIES:
        members.update(_library_members(library))
    return members


def _package_members() -> Iterator[tuple[str, Path]]:
    """Yield ml_lifecycle's agent-side files, found where the package is imported from (an editable install too)."""
    spec = importlib.util.find_spec("ml_lifecycle")
    if spec is None or not spec.submodule_search_locations:
        raise BundleError("ml_lifecycle is not importable here; install airflow-ml-lifecycle (pip install -e .)")
    root = Path(next(iter(spec.submodule_search_locations)))
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        top = relative.split("/", 1)[0]
        if not path.is_file() or _compiled(relative) or "__pycache__" in relative:
            continue
        if any(relative.startswith(folder + "/") for folder in EXCLUDED_PACKAGE_FOLDERS):
            continue
        if (relative in PACKAGE_MODULES) or (top in PACKAGE_FOLDERS and "/" in relative):
            yield f"ml_lifecycle/{relative}", path


def _proxy_members() -> Iterator[tuple[str, Path]]:
    """Yield the endpoint proxy's build context as ``docker/endpoint-proxy/<file>`` (proxy_context's place for it)."""
    from ml_lifecycle.compute.local.endpoints.proxy_config import proxy_context

    context = proxy_context()
    for path in sorted(context.iterdir()):
        if path.is_file():
            yield f"{PROXY_FOLDER}/{path.name}", path


def _library_members(library: str) -> Iterator[tuple[str, Path]]:
    """Yield a distribution's files that the bundle keeps.

    :param library: the distribution name, e.g. ``python-dateutil``.
    """
    try:
        distribution = importlib.metadata.distribution(library)
    except importlib.metadata.PackageNotFoundError as err:
        raise BundleError(
            f"{library} is not installed, and the agent bundle is built only from installed code; install it "
            "(it comes with airflow-ml-lifecycle's dependencies)"
        ) from err
    for file in distribution.files or []:
        name = PurePosixPath(str(file)).as_posix()
        if name.startswith("..") or "__pycache__" in name or _compiled(name):
            continue
        parts = name.split("/")
        if parts[0].endswith(".dist-info"):
            if parts[-1] not in KEPT_DIST_INFO:
                continue
        elif not _wanted_data(parts):
            continue
        source = Path(str(distribution.locate_file(file)))
        if source.is_file():
            yield name, source


def _wanted_data(parts: list[str]) -> bool:
    """Say whether a library file is kept: botocore and boto3 service data only for SERVICES, no examples.

    :param parts: the file's path segments.
    """
    if parts[0] not in ("botocore", "boto3") or len(parts) < 3 or parts[1] != "data":
        return True
    if len(parts) == 3:  # files right in data/: the shared endpoint, partition, defaults and retry rules
        return parts[0] == "boto3" or parts[2] in BOTOCORE_DATA_FILES
    return parts[2] in SERVICES and not parts[-1].startswith("examples-")


def _compiled(name: str) -> bool:
    """Say whether a file is compiled code (platform-specific, and never needed by the agent).

    :param name: the file's name or path.
    """
    return name.endswith(COMPILED_SUFFIXES) or ".cpython-" in name.rsplit("/", 1)[-1]
