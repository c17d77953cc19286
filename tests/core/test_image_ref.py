"""Image references: registry, repository, tag and digest, per the distribution/reference grammar."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ml_lifecycle.core.image_ref import ImageRef, parse_image_ref, validate_repository
from ml_lifecycle.errors import SpecError

PROPERTY = settings(deadline=None, max_examples=300)
DIGEST = "sha256:" + "0123456789abcdef" * 4
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("localhost:5000/a/b:tag", ("localhost:5000", "a/b", "tag", ""), id="localhost-port-nested-tag"),
        pytest.param(f"a/b@{DIGEST}", ("", "a/b", "", DIGEST), id="digest-no-registry"),
        pytest.param(
            "123.dkr.ecr.us-east-1.amazonaws.com/x:y", ("123.dkr.ecr.us-east-1.amazonaws.com", "x", "y", ""), id="ecr"
        ),
        pytest.param("team/model", ("", "team/model", "", ""), id="team-model-has-no-registry"),
        pytest.param("model", ("", "model", "", ""), id="bare-repository"),
        pytest.param("localhost/model", ("localhost", "model", "", ""), id="localhost-no-port"),
        pytest.param("127.0.0.1:5000/ml/linear:v1.2", ("127.0.0.1:5000", "ml/linear", "v1.2", ""), id="ip-port"),
        pytest.param("python:3.11-slim", ("", "python", "3.11-slim", ""), id="docker-hub-tag"),
        pytest.param(f"ghcr.io/org/img:t1@{DIGEST}", ("ghcr.io", "org/img", "t1", DIGEST), id="tag-and-digest"),
        pytest.param("a__b/c-d--e.f_g:T_1", ("", "a__b/c-d--e.f_g", "T_1", ""), id="component-separators"),
        pytest.param(" model:1 ", ("", "model", "1", ""), id="surrounding-spaces"),
        pytest.param("model:" + "t" * 128, ("", "model", "t" * 128, ""), id="128-char-tag"),
    ],
)
def test_parse_image_ref(text: str, expected: tuple[str, str, str, str]) -> None:
    ref = parse_image_ref(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Team/Model", id="upper-case-path"),
        pytest.param("MODEL", id="upper-case-bare"),
        pytest.param("localhost:5000/Model:1", id="upper-case-after-registry"),
        pytest.param("model:", id="empty-tag"),
        pytest.param("model@sha256:abc", id="short-digest"),
        pytest.param("model@sha256:" + "A" * 64, id="upper-case-digest"),
        pytest.param("model@md5:" + "0" * 32, id="not-sha256"),
        pytest.param("a//b", id="empty-component"),
        pytest.param("-a/b", id="leading-hyphen"),
        pytest.param("model:" + "t" * 129, id="129-char-tag"),
        pytest.param("model:-tag", id="tag-leading-hyphen"),
        pytest.param("http://registry/x", id="url-scheme"),
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
        pytest.param(5, id="int"),
    ],
)
def test_parse_image_ref_rejects(text: Any) -> None:
    with pytest.raises(SpecError) as info:
        parse_image_ref(text, "image_uri")
    message = str(info.value)
    assert message.startswith(f"image_uri: {text!r} is not a valid image reference.")
    assert "lower-case" in message


def test_upper_case_first_component_is_rejected() -> None:
    with pytest.raises(SpecError):
        parse_image_ref("Team/model")


def test_non_ascii_tag_is_rejected() -> None:
    with pytest.raises(SpecError):
        parse_image_ref("repo:t\u00e4g")


@pytest.mark.parametrize(
    ("ref", "name", "text"),
    [
        pytest.param(ImageRef("", "model", "", ""), "model", "model:latest", id="no-tag-is-latest"),
        pytest.param(ImageRef("", "team/model", "v1", ""), "team/model", "team/model:v1", id="tag"),
        pytest.param(
            ImageRef("localhost:5000", "a/b", "t", ""), "localhost:5000/a/b", "localhost:5000/a/b:t", id="registry"
        ),
        pytest.param(ImageRef(ECR, "x", "t", DIGEST), f"{ECR}/x", f"{ECR}/x@{DIGEST}", id="digest-preferred"),
    ],
)
def test_name_and_str(ref: ImageRef, name: str, text: str) -> None:
    assert ref.name == name
    assert str(ref) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("ml/linear", "ml/linear", id="plain"),
        pytest.param("127.0.0.1:5000/ml/linear", "127.0.0.1:5000/ml/linear", id="with-registry"),
        pytest.param(" ml/linear ", "ml/linear", id="stripped"),
    ],
)
def test_validate_repository(text: str, expected: str) -> None:
    assert validate_repository(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("ml/linear:v1", "carries a tag or digest", id="tag"),
        pytest.param(f"ml/linear@{DIGEST}", "carries a tag or digest", id="digest"),
        pytest.param("ML/Linear", "is not a valid image reference", id="invalid"),
    ],
)
def test_validate_repository_rejects(text: str, problem: str) -> None:
    with pytest.raises(SpecError) as info:
        validate_repository(text, "repository")
    assert str(info.value).startswith("repository: ")
    assert problem in str(info.value)


COMPONENT = st.from_regex(r"[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4}){0,2}", fullmatch=True)
REGISTRY = st.sampled_from(["", "localhost:5000", "127.0.0.1:5000", "ghcr.io", ECR, "registry.example.com"])
TAG = st.one_of(st.just(""), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True))
DIGESTS = st.one_of(st.just(""), st.text(alphabet="0123456789abcdef", min_size=64, max_size=64).map("sha256:".__add__))


@given(REGISTRY, st.lists(COMPONENT, min_size=1, max_size=3), TAG, DIGESTS)
@PROPERTY
def test_parse_takes_apart_what_was_put_together(registry: str, parts: list[str], tag: str, digest: str) -> None:
    # A first component with a dot is a registry host (docker's rule), so without a registry it must have none.
    assume(registry or "." not in parts[0])
    repository = "/".join(parts)
    text = (
        (f"{registry}/" if registry else "")
        + repository
        + (f":{tag}" if tag else "")
        + (f"@{digest}" if digest else "")
    )
    ref = parse_image_ref(text)
    assert ref == ImageRef(registry, repository, tag, digest)
    assert parse_image_ref(str(ref)).name == ref.name
