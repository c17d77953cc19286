"""Generated hyperparameters, channel names and environment values, through real training containers.

Accepted values must reach the container exactly as SageMaker delivers them (hyperparameters.json with every value
a string, one /opt/ml/input/data/<channel> folder per channel, the environment unchanged) and nothing in them may
ever be run by a shell. Rejected values must fail with a SpecError naming the parameter, before any container starts.
"""

from __future__ import annotations

import json
import re
import tarfile
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.helpers import managed_containers, task_context

from ml_lifecycle import TrainOnEC2Operator
from ml_lifecycle.core.checks import MAX_ENVIRONMENT_CHARS, MAX_HYPERPARAMETER_KEY_CHARS, MAX_HYPERPARAMETER_VALUE_CHARS
from ml_lifecycle.core.templating import is_template
from ml_lifecycle.errors import JobFailed, SpecError

CONTAINER_SETTINGS = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FAST_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# If anything ever hands a value to a shell, these commands leave a file behind: in the model (inside the
# container) or in this machine's temporary folder (on the host, where the agent runs).
HOST_MARKER = Path(tempfile.gettempdir()) / f"ml-lifecycle-injected-{uuid.uuid4().hex}"
INJECTIONS = [
    f"$(touch /opt/ml/model/injected {HOST_MARKER})",
    f"`touch /opt/ml/model/injected {HOST_MARKER}`",
    f"'; touch /opt/ml/model/injected {HOST_MARKER}; '",
    f'"; touch /opt/ml/model/injected {HOST_MARKER}; "',
    f"\ntouch /opt/ml/model/injected {HOST_MARKER}\n",
]
TRICKY = [
    *INJECTIONS,
    "'",
    '"',
    "\\",
    "\n",
    "\r\n",
    "\t",
    "=",
    "==",
    "${HOME}",
    "$PATH",
    "%s",
    "{{ ds }}",
    "{%",
    "\u2028",
]
TRICKY += ["é", "\U0001f642", "\u202e", "\ufeff", " ", ",", "|", "&", ";", "*", "~", "#"]


def _text(max_size: int, nul: bool = True) -> st.SearchStrategy[str]:
    """Unicode text laced with quotes, shell syntax and line breaks, at most max_size characters.

    :param max_size: the longest text.
    :param nul: whether NUL characters may appear.
    """
    characters = st.characters() if nul else st.characters(exclude_characters="\x00")
    pieces = st.lists(st.one_of(st.sampled_from(TRICKY), st.text(characters, max_size=12)), max_size=8)
    return pieces.map("".join).filter(lambda s: len(s) <= max_size)


def _long(alphabet: st.SearchStrategy[str], minimum: int) -> st.SearchStrategy[str]:
    """Text of at least minimum characters (a repeated character plus a tail, so examples stay small).

    :param alphabet: the characters.
    :param minimum: the shortest length.
    """
    return st.builds(lambda c, n, tail: c * n + tail, alphabet, st.integers(minimum, minimum + 40), st.text(max_size=5))


SCALARS = st.one_of(_text(200), st.one_of(st.integers(), st.floats(), st.booleans()))
HP_NAMES = st.one_of(_text(40), _long(st.characters(), MAX_HYPERPARAMETER_KEY_CHARS - 45)).filter(
    lambda s: 1 <= len(s) <= MAX_HYPERPARAMETER_KEY_CHARS
)
HYPERPARAMETERS = st.dictionaries(HP_NAMES, SCALARS, max_size=12)

ENV_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Names the shell, the loader or the contract own: a value there changes how `sh` or `env` run, or is replaced
# (TRAINING_JOB_NAME, AWS_REGION) by design. Everything else a user may set must arrive unchanged.
SHELL_OR_CONTRACT = {"PATH", "HOME", "HOSTNAME", "PWD", "OLDPWD", "IFS", "ENV", "PS1", "PS2", "PS4", "OPTIND"}
SHELL_OR_CONTRACT |= {"PPID", "LINENO", "MAIL", "MAILPATH", "MAILCHECK", "TRAINING_JOB_NAME", "AWS_REGION", "_"}
ENV_NAMES = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,30}", fullmatch=True).filter(
    lambda n: n not in SHELL_OR_CONTRACT and not n.startswith(("LD_", "GLIBC_", "MALLOC_"))
)
ENV_VALUES = st.one_of(_text(MAX_ENVIRONMENT_CHARS, nul=False), st.one_of(st.integers(), st.floats(), st.booleans()))
ENVIRONMENT = st.dictionaries(ENV_NAMES, ENV_VALUES, max_size=10)

CHANNEL_NAME = re.compile(r"[A-Za-z0-9.\-_]{1,64}")
# "." and ".." pass our check but are not folders of their own: see test_dot_channel_names_are_refused.
CHANNEL_NAMES = st.from_regex(r"[A-Za-z0-9.\-_]{1,64}", fullmatch=True).filter(lambda n: n not in (".", ".."))


def _operator(**overrides: Any) -> TrainOnEC2Operator:
    """Build a training operator with good defaults.

    :param overrides: operator arguments.
    """
    args: dict[str, Any] = {
        "task_id": "train",
        "image_uri": "example:latest",
        "channels": {"train": "file:///data/train"},
        "output_path": "file:///out",
        "max_runtime_s": 120,
    }
    args.update(overrides)
    return TrainOnEC2Operator(**args)


def _model_files(result: dict[str, Any]) -> dict[str, bytes]:
    """Read every file of the job's model.tar.gz.

    :param result: the operator's result (a file:// model_uri).
    """
    with tarfile.open(result["model_uri"].removeprefix("file://")) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _environment(dump: bytes) -> dict[str, bytes]:
    """Parse `env -0` output: NUL-separated NAME=value entries whose values may hold newlines and '='.

    :param dump: the output.
    """
    entries = [entry.partition(b"=") for entry in dump.split(b"\0") if entry]
    return {name.decode(): value for name, _, value in entries}


def _assert_rejected(overrides: dict[str, Any], parameter: str) -> None:
    """Say that these arguments fail with a SpecError naming parameter: when the DAG is parsed, or (for values
    that still look like Jinja templates, which parse-time checks leave for later) when the task starts, before
    any container.

    :param overrides: operator arguments.
    :param parameter: the parameter the error must name.
    """
    try:
        op = _operator(**overrides)
    except SpecError as err:
        caught = err
    else:
        assert any(is_template(v) for v in overrides.values()), f"accepted {overrides!r}"
        with pytest.raises(SpecError) as raised:
            op.execute(task_context())
        caught = raised.value
    assert caught.parameter == parameter
    assert str(caught).startswith(f"{parameter}: ")


# --- accepted values, through real containers ---


@pytest.mark.docker
@CONTAINER_SETTINGS
@given(hyperparameters=HYPERPARAMETERS, environment=ENVIRONMENT)
def test_generated_hyperparameters_and_environment_arrive_byte_for_byte(
    hyperparameters, environment, example_image, sample_data, tmp_path, ml_home, docker_client
):
    copy = (
        "cp /opt/ml/input/config/hyperparameters.json /opt/ml/input/config/inputdataconfig.json /opt/ml/model/"
        " && env -0 > /opt/ml/model/env0"
    )
    context = task_context()
    result = _operator(
        image_uri=example_image,
        channels={"train": f"file://{sample_data}/train"},
        output_path=f"file://{tempfile.mkdtemp(dir=tmp_path)}",
        hyperparameters=hyperparameters,
        environment=environment,
        entrypoint=["sh", "-c", copy],
    ).execute(context)
    files = _model_files(result)

    # SageMaker writes every hyperparameter value as a string: str() of what was given.
    assert json.loads(files["hyperparameters.json"].decode("utf-8")) == {k: str(v) for k, v in hyperparameters.items()}
    assert list(json.loads(files["inputdataconfig.json"])) == ["train"]
    seen = _environment(files["env0"])
    for name, value in environment.items():
        assert seen.get(name) == str(value).encode("utf-8"), name
    assert seen["TRAINING_JOB_NAME"] == result["job_name"].encode()
    assert "injected" not in files
    assert not HOST_MARKER.exists()
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


@pytest.mark.docker
@CONTAINER_SETTINGS
@given(names=st.lists(CHANNEL_NAMES, min_size=1, max_size=4, unique=True))
def test_generated_channel_names_each_get_their_folder(
    names, example_image, sample_data, tmp_path, ml_home, docker_client
):
    listing = (
        "cp /opt/ml/input/config/inputdataconfig.json /opt/ml/model/"
        " && cd /opt/ml/input/data && find . -mindepth 2 -maxdepth 2 | LC_ALL=C sort > /opt/ml/model/data.txt"
    )
    context = task_context()
    result = _operator(
        image_uri=example_image,
        channels={name: f"file://{sample_data}/train" for name in names},
        output_path=f"file://{tempfile.mkdtemp(dir=tmp_path)}",
        entrypoint=["sh", "-c", listing],
    ).execute(context)
    files = _model_files(result)

    config = json.loads(files["inputdataconfig.json"])
    assert sorted(config) == sorted(names)
    assert all(entry["TrainingInputMode"] == "File" for entry in config.values())
    objects = sorted(p.name for p in (sample_data / "train").iterdir())
    expected = sorted(f"./{name}/{obj}".encode() for name in names for obj in objects)
    assert files["data.txt"].splitlines() == expected
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


@pytest.mark.docker
def test_an_environment_value_the_engine_refuses_fails_and_leaves_nothing(
    example_image, sample_data, tmp_path, ml_home, docker_client
):
    # No process environment can hold NUL; whatever refuses it, the job must fail and leave no container.
    context = task_context()
    with pytest.raises((SpecError, JobFailed)):
        _operator(
            image_uri=example_image,
            channels={"train": f"file://{sample_data}/train"},
            output_path=f"file://{tmp_path}/out",
            environment={"WITH_NUL": "a\x00b"},
            entrypoint=["sh", "-c", "true"],
        ).execute(context)
    assert managed_containers(docker_client, run_id=context["run_id"]) == []


def test_an_environment_value_with_nul_fails_when_the_dag_is_parsed():
    _assert_rejected({"environment": {"WITH_NUL": "a\x00b"}}, "environment['WITH_NUL']")


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_channel_names_are_refused(name):
    _assert_rejected({"channels": {name: "file:///data/train"}}, f"channels[{name!r}]")


# --- rejected values, no container ---

NOT_SCALARS = st.one_of(
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.binary(max_size=5),
    st.tuples(st.integers()),
)
BAD_HP_NAMES = st.one_of(st.just(""), _long(st.characters(), MAX_HYPERPARAMETER_KEY_CHARS + 1), st.integers())


@FAST_SETTINGS
@given(
    good=HYPERPARAMETERS,
    bad=st.one_of(
        st.tuples(HP_NAMES, NOT_SCALARS),
        st.tuples(HP_NAMES, _long(st.characters(), MAX_HYPERPARAMETER_VALUE_CHARS + 1)),
        st.tuples(BAD_HP_NAMES, SCALARS),
    ),
)
def test_rejected_hyperparameters_name_the_entry(good, bad):
    key, value = bad
    good.pop(key, None)
    _assert_rejected({"hyperparameters": {**good, key: value}}, f"hyperparameters[{key!r}]")


@FAST_SETTINGS
@given(
    value=st.one_of(
        st.lists(SCALARS, max_size=3),
        st.integers(),
        _text(30).filter(lambda s: not is_template(s)),
        st.integers(101, 130).map(lambda n: {f"h{i}": i for i in range(n)}),
    )
)
def test_rejected_hyperparameter_mappings_name_the_parameter(value):
    _assert_rejected({"hyperparameters": value}, "hyperparameters")


BAD_CHANNEL_NAMES = st.one_of(
    st.text(max_size=70).filter(lambda n: not CHANNEL_NAME.fullmatch(n)),
    _text(70).filter(lambda n: not CHANNEL_NAME.fullmatch(n)),
    _long(st.sampled_from("abc.-_"), 65).map(lambda n: re.sub(r"[^a-c.\-_]", "", n)).filter(lambda n: len(n) > 64),
    st.integers(),
)


@FAST_SETTINGS
@given(good=CHANNEL_NAMES, bad=BAD_CHANNEL_NAMES, bad_first=st.booleans())
def test_rejected_channel_names_name_the_channel(good, bad, bad_first):
    channels = (
        {bad: "file:///data/b", good: "file:///data/a"}
        if bad_first
        else {good: "file:///data/a", bad: "file:///data/b"}
    )
    _assert_rejected({"channels": channels}, f"channels[{bad!r}]")


BAD_ENV_NAMES = st.one_of(
    st.text(max_size=20).filter(lambda n: not ENV_NAME.fullmatch(n)),
    _text(20).filter(lambda n: not ENV_NAME.fullmatch(n)),
    _long(st.sampled_from("AZ_9"), MAX_ENVIRONMENT_CHARS + 1).map(lambda n: "A" + re.sub(r"\W", "", n)),
    st.integers(),
)


@FAST_SETTINGS
@given(
    good=ENVIRONMENT,
    bad=st.one_of(
        st.tuples(BAD_ENV_NAMES, ENV_VALUES),
        st.tuples(ENV_NAMES, NOT_SCALARS),
        st.tuples(ENV_NAMES, _long(st.characters(), MAX_ENVIRONMENT_CHARS + 1)),
    ),
)
def test_rejected_environment_names_the_variable(good, bad):
    key, value = bad
    good.pop(key, None)
    _assert_rejected({"environment": {**good, key: value}}, f"environment[{key!r}]")
