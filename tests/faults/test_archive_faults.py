"""Model archives that are corrupt or try to escape their folder are refused before anything serves them."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from support.helpers import managed_containers, task_context

from ml_lifecycle import DeployEndpointOperator
from ml_lifecycle.compute.local.serving.archive import ArchiveError, extract_tar_gz


def _archive(path: Path, members: list[tarfile.TarInfo], data: bytes = b"x") -> Path:
    """Write a tar.gz holding the given members.

    :param path: the archive to write.
    :param members: the members (regular files get data as content).
    :param data: the content of regular files.
    """
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if member.isreg():
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
            else:
                tar.addfile(member)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    """Make a tar member.

    :param name: the member name.
    :param kind: the member type.
    :param linkname: the link target for links.
    """
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    "member",
    [
        _member("../escaped.txt"),
        _member("/etc/absolute.txt"),
        _member("link", tarfile.SYMTYPE, "/etc/passwd"),
        _member("hard", tarfile.LNKTYPE, "../../outside"),
        _member("dev", tarfile.CHRTYPE),
    ],
    ids=["dot-dot", "absolute", "symlink-out", "hardlink-out", "device"],
)
def test_members_escaping_the_target_are_refused(tmp_path, member):
    archive = _archive(tmp_path / "model.tar.gz", [_member("model.json"), member])
    target = tmp_path / "unpacked"
    with pytest.raises(ArchiveError, match=r"escapes its folder|not a readable"):
        extract_tar_gz(str(archive), str(target))
    assert not (tmp_path / "escaped.txt").exists()


@pytest.mark.parametrize("content", [b"", b"not a tarball at all", b"\x1f\x8b\x08\x00truncated gzip"])
def test_a_corrupt_archive_is_refused(tmp_path, content):
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(content)
    with pytest.raises(ArchiveError, match=r"not a readable tar\.gz"):
        extract_tar_gz(str(archive), str(tmp_path / "unpacked"))


@pytest.mark.docker
def test_deploying_an_escaping_archive_starts_nothing(example_image, tmp_path, ml_home, docker_client):
    archive = _archive(tmp_path / "model.tar.gz", [_member("../../../../tmp/owned.txt")])
    op = DeployEndpointOperator(
        task_id="deploy", endpoint_name="escape-test", image_uri=example_image, model_uri=f"file://{archive}"
    )
    with pytest.raises(ArchiveError):
        op.execute(task_context())
    assert managed_containers(docker_client, endpoint="escape-test") == []
