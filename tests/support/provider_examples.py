"""The Amazon provider's own system-test DAGs, read from its source distribution on PyPI (the version installed), so
the DAGs run here are AWS's and Apache's text, with only the replacements a test names (each must match once)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tarfile
from pathlib import Path

PACKAGE = "apache-airflow-providers-amazon"
CACHE = Path.home() / ".cache" / "ml-lifecycle" / "provider-sdist"
# The harness imports of the provider's system tests, and ours that stand in for them (tests/provider_examples).
HARNESS_IMPORTS = {
    "from tests_common.test_utils.version_compat import AIRFLOW_V_3_0_PLUS": "from harness import AIRFLOW_V_3_0_PLUS",
    "from system.amazon.aws.utils import ": "from harness import ",
    "from tests_common.test_utils.watcher import watcher": "from harness import watcher",
    "from tests_common.test_utils.system_tests import get_test_run": "from harness import get_test_run",
}


def provider_example(name: str) -> str:
    """Return the text of one of the provider's system-test DAGs, from the sdist of the installed version.

    :param name: the file's name, e.g. ``example_sagemaker_endpoint.py``.
    """
    version = importlib.metadata.version(PACKAGE)
    sdist = CACHE / f"{PACKAGE.replace('-', '_')}-{version}.tar.gz"
    if not sdist.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", str(CACHE)]
        subprocess.run([*pip, f"{PACKAGE}=={version}"], check=True)
    member = f"{PACKAGE.replace('-', '_')}-{version}/tests/system/amazon/aws/{name}"
    with tarfile.open(sdist) as tar:
        extracted = tar.extractfile(member)
        assert extracted is not None, f"{member} is not in {sdist}"
        return extracted.read().decode()


def with_replacements(text: str, replacements: dict[str, str]) -> str:
    """Return the text with each replacement made; each original must occur exactly once.

    :param text: the DAG's text.
    :param replacements: original -> replacement.
    """
    for original, replacement in replacements.items():
        assert text.count(original) == 1, f"{original!r} occurs {text.count(original)} times in the provider's DAG"
        text = text.replace(original, replacement)
    return text


def without_blocks(text: str, blocks: dict[str, tuple[str, str]]) -> str:
    """Return the text without some blocks of whole lines, each from the line holding its first marker through the
    line holding its last; each marker must occur exactly once, the last after the first.

    :param text: the DAG's text.
    :param blocks: the block's name -> (first marker, last marker).
    """
    for name, (first, last) in blocks.items():
        for marker in (first, last):
            assert text.count(marker) == 1, f"{name}: {marker!r} occurs {text.count(marker)} times in the DAG"
        start = text.rfind("\n", 0, text.index(first)) + 1
        end = text.index("\n", text.index(last)) + 1
        assert start < end and text.index(first) <= text.index(last), f"{name}: {last!r} comes before {first!r}"
        text = text[:start] + text[end:]
    return text
