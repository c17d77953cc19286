"""Artifact URIs: s3://bucket/key and file:///abs/path, parsed, rendered and joined."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import SpecError

PROPERTY = settings(deadline=None, max_examples=300)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("s3://bucket/prefix/key.csv", ("s3", "bucket", "prefix/key.csv"), id="s3-key"),
        pytest.param("s3://bucket", ("s3", "bucket", ""), id="s3-bucket-only"),
        pytest.param("s3://bucket/", ("s3", "bucket", ""), id="s3-bucket-slash"),
        pytest.param("s3://bucket/prefix/", ("s3", "bucket", "prefix"), id="s3-trailing-slash-dropped"),
        pytest.param("S3://bucket/x", ("s3", "bucket", "x"), id="s3-upper-scheme"),
        pytest.param("  s3://bucket/k  ", ("s3", "bucket", "k"), id="s3-surrounding-spaces"),
        pytest.param("file:///data/train", ("file", "", "/data/train"), id="file-abs"),
        pytest.param("file:///data/train/", ("file", "", "/data/train"), id="file-trailing-slash-dropped"),
        pytest.param("file://localhost/data", ("file", "", "/data"), id="file-localhost"),
        pytest.param("file:///", ("file", "", "/"), id="file-root"),
        pytest.param("file:///data/a%20b", ("file", "", "/data/a b"), id="file-percent-decoded"),
        pytest.param("/data/train", ("file", "", "/data/train"), id="bare-absolute-path"),
    ],
)
def test_parse_uri(text: str, expected: tuple[str, str, str]) -> None:
    uri = parse_uri(text)
    assert (uri.scheme, uri.bucket, uri.path) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("ftp://x", "'ftp://x' has the scheme 'ftp', which no artifact store handles", id="ftp"),
        pytest.param("https://b/k", "has the scheme 'https'", id="https"),
        pytest.param("relative/path", "has the scheme '(none)'", id="relative-no-scheme"),
        pytest.param("", "'' is not a URI", id="empty"),
        pytest.param("   ", "'   ' is not a URI", id="blank"),
        pytest.param(None, "None is not a URI", id="none"),
        pytest.param(5, "5 is not a URI", id="int"),
        pytest.param("s3:///key", "names no bucket", id="s3-no-bucket"),
        pytest.param("file://host/data", "names the host 'host'; file URIs are local", id="file-remote-host"),
        pytest.param("file:relative", "is a relative path", id="file-relative"),
    ],
)
def test_parse_uri_rejects(text: Any, problem: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_uri(text, "output_path")
    assert info.value.parameter == "output_path"
    assert str(info.value).startswith("output_path: ")
    assert problem in str(info.value)


def test_unknown_scheme_suggests_s3_and_file() -> None:
    with pytest.raises(SpecError) as info:
        parse_uri("ftp://x", "channels['train']")
    message = str(info.value)
    assert message.startswith("channels['train']: ")
    assert "s3://" in message
    assert "file://" in message


@pytest.mark.parametrize(
    ("uri", "text"),
    [
        pytest.param(ArtifactUri("s3", "b", "k/x"), "s3://b/k/x", id="s3-key"),
        pytest.param(ArtifactUri("s3", "b", ""), "s3://b", id="s3-bucket"),
        pytest.param(ArtifactUri("file", "", "/d/x"), "file:///d/x", id="file"),
        pytest.param(ArtifactUri("file", "", "/"), "file:///", id="file-root"),
    ],
)
def test_str_is_canonical(uri: ArtifactUri, text: str) -> None:
    assert str(uri) == text


@pytest.mark.parametrize(
    ("base", "parts", "expected"),
    [
        pytest.param("s3://b", ("a",), "s3://b/a", id="s3-bucket-root"),
        pytest.param("s3://b/p", ("/a/", "b"), "s3://b/p/a/b", id="s3-strips-slashes"),
        pytest.param("s3://b/p", ("job", "output", "model.tar.gz"), "s3://b/p/job/output/model.tar.gz", id="s3-model"),
        pytest.param("s3://b/p", (), "s3://b/p", id="nothing"),
        pytest.param("s3://b/p", ("", "/"), "s3://b/p", id="only-empty-parts"),
        pytest.param("file:///d", ("x", "y"), "file:///d/x/y", id="file"),
    ],
)
def test_join(base: str, parts: tuple[str, ...], expected: str) -> None:
    assert str(parse_uri(base).join(*parts)) == expected


def test_join_below_file_root() -> None:
    assert parse_uri("file:///").join("x") == ArtifactUri("file", "", "/x")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        pytest.param("s3://b/p/model.tar.gz", "model.tar.gz", id="s3-object"),
        pytest.param("file:///d/x", "x", id="file"),
        pytest.param("s3://b/top", "top", id="single-segment"),
    ],
)
def test_name_is_the_last_segment(text: str, name: str) -> None:
    assert parse_uri(text).name == name


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param("s3://b/run#1/train.csv", "run#1/train.csv", id="hash-in-key"),
        pytest.param("s3://b/what?/x", "what?/x", id="question-mark-in-key"),
        pytest.param("s3://b/50%25off", "50%25off", id="percent-in-key"),
    ],
)
def test_s3_keys_are_taken_literally(text: str, key: str) -> None:
    assert parse_uri(text).path == key


SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789._-", min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..")
)
BUCKET = st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True)
KEYS = st.lists(SEGMENT, min_size=0, max_size=5).map("/".join)
PATHS = st.lists(SEGMENT, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts))


@given(BUCKET, KEYS)
@PROPERTY
def test_s3_uri_round_trips(bucket: str, key: str) -> None:
    text = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    uri = parse_uri(text)
    assert (uri.bucket, uri.path) == (bucket, key)
    assert str(uri) == text
    assert parse_uri(str(uri)) == uri


@given(PATHS)
@PROPERTY
def test_file_uri_round_trips(path: str) -> None:
    uri = parse_uri(f"file://{path}")
    assert uri.path == path
    assert str(uri) == f"file://{path}"
    assert parse_uri(str(uri)) == uri
    assert parse_uri(path) == uri


@given(st.one_of(BUCKET.map(lambda b: f"s3://{b}"), st.just("file:///data")), st.lists(SEGMENT, max_size=4))
@PROPERTY
def test_join_then_parse_is_stable(base: str, parts: list[str]) -> None:
    joined = parse_uri(base).join(*parts)
    assert parse_uri(str(joined)) == joined
    assert str(joined) == "/".join([base, *parts])
