"""sourcedir.tar.gz as the SageMaker SDK lays it out, reproducible byte for byte, content-addressed."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.source_code.archive import SourceCode, digest_of, pack


def _tree(root: Path) -> Path:
    """Write a small source folder.

    :param root: where.
    """
    (root / "src" / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "src" / "train.py").write_text("print('hi')\n")
    (root / "src" / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "src" / "run.sh", 0o755)
    (root / "src" / "pkg" / "__init__.py").write_text("")
    (root / "src" / "pkg" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"cache")
    return root / "src"


def test_the_folder_is_at_the_root_dependencies_beside_it_and_caches_left_out(tmp_path):
    source = _tree(tmp_path)
    (tmp_path / "lib" / "common").mkdir(parents=True)
    (tmp_path / "lib" / "common" / "util.py").write_text("")
    code = SourceCode("train.py", str(source), (str(tmp_path / "lib" / "common"),))
    names = [name for name, _ in code.members()]
    assert names == ["common/util.py", "pkg/__init__.py", "run.sh", "train.py"]
    pack(code.members(), tmp_path / "a.tar.gz")
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        modes = {m.name: m.mode for m in tar.getmembers()}
    assert modes["run.sh"] == 0o755 and modes["train.py"] == 0o644


def test_an_entry_point_alone_is_packed_alone_and_run_by_its_base_name(tmp_path):
    source = _tree(tmp_path)
    code = SourceCode(str(source / "train.py"))
    assert [name for name, _ in code.members()] == ["train.py"]
    assert code.program() == "train.py"


def test_the_same_content_gives_the_same_bytes_and_digest_and_a_change_another(tmp_path):
    source = _tree(tmp_path)
    code = SourceCode("train.py", str(source))
    pack(code.members(), tmp_path / "a.tar.gz")
    first_digest = digest_of(code.members())
    os.utime(source / "train.py", (1, 1))  # times do not count
    pack(code.members(), tmp_path / "b.tar.gz")
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    assert digest_of(code.members()) == first_digest
    os.chmod(source / "train.py", 0o755)  # the executable bit does
    assert digest_of(code.members()) != first_digest


def test_two_entries_named_alike_at_the_root_are_refused(tmp_path):
    source = _tree(tmp_path)
    (tmp_path / "other" / "pkg").mkdir(parents=True)
    with pytest.raises(SpecError, match="two entries would be named alike"):
        SourceCode("train.py", str(source), (str(tmp_path / "other" / "pkg"),)).members()
