"""Field checks shared by the specs and by operator constructors (which skip still-templated values)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from ml_lifecycle.core.errors import SpecError
from ml_lifecycle.core.templating import is_template

MAX_HYPERPARAMETERS = 100
MAX_HYPERPARAMETER_KEY_CHARS = 256
MAX_HYPERPARAMETER_VALUE_CHARS = 2500
MAX_ENVIRONMENT_ENTRIES = 100
MAX_ENVIRONMENT_CHARS = 512
MAX_RUNTIME_LIMIT_S = 28 * 24 * 3600
MAX_METRIC_DEFINITIONS = 40
# Defaults and choices of the specs, kept here so that operator modules need not import the specs at DAG parse time.
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
DEFAULT_MAX_RUNTIME_S = 24 * 3600
SUPPORTED_SPLIT_TYPES = ("None", "Line", "RecordIO", "TFRecord")

_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9.\-_]{1,64}$")
_ENV_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_INSTANCE_TYPE = re.compile(r"^(?P<family>[a-z][a-z0-9]*(?:-[a-z0-9]+)*)\.(?P<size>[a-z0-9]+(?:-[a-z0-9]+)*)$")


def check_positive_int(parameter: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    """Accept a whole number within bounds (strings of digits too, as Jinja renders them).

    :param parameter: the parameter name used in error messages.
    :param value: the value to check.
    :param minimum: the smallest allowed value.
    :param maximum: the largest allowed value, or None for no bound.
    """
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        number = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is None:
        raise SpecError(parameter, f"{value!r} is not a whole number", f"Write a whole number >= {minimum}")
    if number < minimum or (maximum is not None and number > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise SpecError(parameter, f"{number} is out of range", f"Write a whole number {bounds}")
    return number


def check_instance_count(value: Any) -> int:
    """Accept an instance count of at least 1.

    :param value: the number of hosts.
    """
    return check_positive_int("instance_count", value, 1, 100)


def check_max_runtime_s(value: Any) -> int:
    """Accept a positive runtime limit of at most 28 days, in seconds.

    :param value: the limit in seconds.
    """
    return check_positive_int("max_runtime_s", value, 1, MAX_RUNTIME_LIMIT_S)


def check_channel_name(name: str) -> str:
    """Accept a SageMaker channel name (letters, digits, ``.``, ``-``, ``_``; 1-64 chars).

    :param name: the channel name.
    """
    if not isinstance(name, str) or not _CHANNEL_NAME.fullmatch(name) or name in (".", ".."):
        raise SpecError(
            f"channels[{name!r}]",
            "is not a valid channel name",
            "Use 1-64 letters, digits, '.', '-' or '_' (not '.' or '..' alone: the channel is a folder), e.g. 'train'",
        )
    return name


def hyperparameters_as_strings(values: Mapping[str, Any] | None) -> dict[str, str]:
    """Check hyperparameters and convert them to strings, as SageMaker passes them.

    :param values: name -> scalar (str, int, float, bool).
    """
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise SpecError("hyperparameters", f"{type(values).__name__} is not a mapping", "Pass a dict of name -> scalar")
    if len(values) > MAX_HYPERPARAMETERS:
        raise SpecError("hyperparameters", f"has {len(values)} entries", f"Keep at most {MAX_HYPERPARAMETERS}")
    result: dict[str, str] = {}
    for key, value in values.items():
        where = f"hyperparameters[{key!r}]"
        if not isinstance(key, str) or not key or len(key) > MAX_HYPERPARAMETER_KEY_CHARS:
            raise SpecError(where, "the name is empty, not a string or too long", "Use a name of 1-256 characters")
        if value is None or not isinstance(value, str | int | float | bool):
            raise SpecError(
                where,
                f"{value!r} is a {type(value).__name__}, not a scalar",
                "Use a string, number or boolean; encode structures yourself, e.g. json.dumps(value)",
            )
        text = str(value)
        if len(text) > MAX_HYPERPARAMETER_VALUE_CHARS:
            raise SpecError(where, f"is {len(text)} characters", f"Keep it to {MAX_HYPERPARAMETER_VALUE_CHARS}")
        result[key] = text
    return result


def check_environment(values: Mapping[str, Any] | None, parameter: str = "environment") -> dict[str, str]:
    """Check container environment variables and return them as strings.

    :param values: name -> value.
    :param parameter: the parameter name used in error messages.
    """
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise SpecError(parameter, f"{type(values).__name__} is not a mapping", "Pass a dict of NAME -> value")
    if len(values) > MAX_ENVIRONMENT_ENTRIES:
        raise SpecError(parameter, f"has {len(values)} entries", f"Keep at most {MAX_ENVIRONMENT_ENTRIES}")
    result: dict[str, str] = {}
    for key, value in values.items():
        where = f"{parameter}[{key!r}]"
        if not isinstance(key, str) or not _ENV_KEY.fullmatch(key) or len(key) > MAX_ENVIRONMENT_CHARS:
            raise SpecError(where, "is not a valid variable name", "Use [a-zA-Z_][a-zA-Z0-9_]*")
        if value is None or not isinstance(value, str | int | float | bool):
            raise SpecError(where, f"{value!r} is not a scalar", "Use a string or number")
        text = str(value)
        if len(text) > MAX_ENVIRONMENT_CHARS:
            raise SpecError(where, f"is {len(text)} characters", f"Keep it to {MAX_ENVIRONMENT_CHARS}")
        if "\x00" in text:
            raise SpecError(where, "holds a NUL character, which no process environment can carry", "Remove it")
        result[key] = text
    return result


def check_metric_definitions(values: Any) -> tuple[tuple[str, str], ...]:
    """Check SageMaker metric definitions and return them as (name, regex) pairs.

    :param values: a list of ``{"Name": ..., "Regex": ...}`` with one capturing group per regex.
    """
    if values is None:
        return ()
    if not isinstance(values, list | tuple):
        raise SpecError("metric_definitions", "is not a list", 'Pass [{"Name": "rmse", "Regex": "rmse=([0-9.]+)"}]')
    if len(values) > MAX_METRIC_DEFINITIONS:
        raise SpecError("metric_definitions", f"has {len(values)} entries", f"Keep at most {MAX_METRIC_DEFINITIONS}")
    pairs = []
    for index, item in enumerate(values):
        where = f"metric_definitions[{index}]"
        if not isinstance(item, Mapping) or set(item) != {"Name", "Regex"}:
            raise SpecError(where, f"{item!r} is not a definition", 'Write {"Name": "rmse", "Regex": "rmse=([0-9.]+)"}')
        name, regex = item["Name"], item["Regex"]
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise SpecError(where, "Name must be 1-255 characters", "Give the metric a short name")
        if not isinstance(regex, str) or not 1 <= len(regex) <= 500:
            raise SpecError(where, "Regex must be 1-500 characters", "Give a regular expression")
        try:
            compiled = re.compile(regex)
        except re.error as err:
            raise SpecError(where, f"Regex {regex!r} does not compile ({err})", "Fix the regular expression") from err
        if compiled.groups < 1:
            raise SpecError(where, f"Regex {regex!r} has no capturing group", "Capture the value, e.g. rmse=([0-9.]+)")
        pairs.append((name, regex))
    return tuple(pairs)


def check_endpoint_name(value: str) -> str:
    """Accept an endpoint name: 1-63 letters, digits and hyphens, not starting or ending with a hyphen.

    :param value: the endpoint name.
    """
    if not isinstance(value, str) or len(value) > 63 or not _ENDPOINT_NAME.fullmatch(value):
        raise SpecError("endpoint_name", f"{value!r} is not a valid endpoint name", "Use 1-63 letters, digits and '-'")
    return value


def ec2_instance_type(instance_type: str) -> str:
    """Return the EC2 name of a SageMaker or EC2 instance type (``ml.m5.large`` -> ``m5.large``).

    :param instance_type: ``ml.<family>.<size>`` or ``<family>.<size>``.
    """
    name = instance_type.removeprefix("ml.") if isinstance(instance_type, str) else instance_type
    if not isinstance(name, str) or not _INSTANCE_TYPE.fullmatch(name):
        raise SpecError(
            "instance_type", f"{instance_type!r} is not an instance type", "Write e.g. 'ml.m5.large' or 'm5.large'"
        )
    return name


def check_error_rate(value: Any) -> float:
    """Accept a 5XX error rate threshold: a number in [0, 1] (0.01 fails on more than 1 % of requests failing).

    :param value: the threshold.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise SpecError("max_error_rate", f"{value!r} is not a number from 0 to 1", "Write e.g. 0.01 for 1 %")
    return float(value)


def check_choice(parameter: str, value: Any, choices: tuple[str, ...]) -> str:
    """Accept one of a fixed set of strings.

    :param parameter: the parameter name used in error messages.
    :param value: the value given.
    :param choices: the allowed values.
    """
    if value not in choices:
        raise SpecError(parameter, f"{value!r} is not allowed", f"Write one of {', '.join(map(repr, choices))}")
    return value


def check_now(checks: Mapping[str, tuple[Any, Callable[[Any], Any]]]) -> None:
    """Run field checks whose values are already final, and report every failing one at once.

    Templated values wait for execute().

    :param checks: parameter name -> (value, check function).
    """
    check_all(
        *(partial(check, value) for value, check in checks.values() if value is not None and not is_template(value))
    )


def check_all(*calls: Callable[[], Any]) -> None:
    """Run every check and raise one SpecError naming each argument that failed (none raised: all passed).

    :param calls: checks that raise SpecError.
    """
    errors: list[SpecError] = []
    for call in calls:
        try:
            call()
        except SpecError as err:
            errors.append(err)
    if errors:
        raise SpecError.of_many(errors)


def check_streamed_split(max_payload_mb: Any, split_type: Any, batch_strategy: Any) -> None:
    """Refuse a record split that max_payload_mb 0 would ignore: MultiRecord (or unset) then sends objects whole.

    :param max_payload_mb: the max_payload_mb parameter.
    :param split_type: the split_type parameter.
    :param batch_strategy: the batch_strategy parameter (None: the container's choice, else MultiRecord).
    """
    if max_payload_mb == 0 and split_type != "None" and batch_strategy != "SingleRecord":
        raise SpecError(
            "max_payload_mb",
            f"0 with batch_strategy {batch_strategy or 'MultiRecord'} sends each input object whole as one request, "
            f"so split_type {split_type} would be ignored",
            "Set split_type='None' to send whole objects, or batch_strategy='SingleRecord' to send each record "
            "alone (chunked)",
        )


def check_streamed_processing(max_payload_mb: Any, split_type: Any, batch_strategy: Any, processes: bool) -> None:
    """Refuse record processing on objects that max_payload_mb 0 streams whole (MultiRecord or split_type None).

    :param max_payload_mb: the max_payload_mb parameter.
    :param split_type: the split_type parameter.
    :param batch_strategy: the batch_strategy parameter.
    :param processes: whether input_filter, output_filter or join_source asks for record processing.
    """
    streams_whole = split_type == "None" or batch_strategy == "MultiRecord"
    if processes and max_payload_mb == 0 and streams_whole:
        raise SpecError(
            "max_payload_mb",
            f"0 streams each input object whole (split_type {split_type}, batch_strategy {batch_strategy}), so "
            "input_filter, output_filter and join_source cannot apply",
            "Set max_payload_mb to 1-100, or use batch_strategy SingleRecord with a split_type",
        )


def check_container_sizing(instance_type: str, gpus: Any, shm_size_bytes: Any) -> None:
    """Refuse GPUs or a /dev/shm size that cannot be given, and a GPU family's unknown size.

    :param instance_type: the instance type.
    :param gpus: the canonical ``gpus=`` override, or None.
    :param shm_size_bytes: the /dev/shm size in bytes, or None.
    """
    from ml_lifecycle.core.container_resources import MIN_SHM_BYTES
    from ml_lifecycle.core.gpus import gpu_request

    gpu_request(instance_type, gpus)
    if shm_size_bytes is not None:
        check_positive_int("shm_size", shm_size_bytes, MIN_SHM_BYTES)


def sizing_checks(gpus: Any, shm_size: Any) -> dict[str, tuple[Any, Callable[[Any], Any]]]:
    """Return the parse-time checks of an operator's ``gpus`` and ``shm_size`` (for check_now).

    :param gpus: the gpus= override.
    :param shm_size: the shm_size= value.
    """
    from ml_lifecycle.core.container_resources import size_in_bytes
    from ml_lifecycle.core.gpus import canonical_gpus

    return {"gpus": (gpus, canonical_gpus), "shm_size": (shm_size, size_in_bytes)}


def check_secrets(secrets: Any) -> dict[str, str]:
    """Check an operator's ``secrets`` (names and references, never values) at parse time.

    :param secrets: environment variable -> reference, or None.
    """
    from ml_lifecycle.core.secret_refs import parse_secrets

    return parse_secrets(secrets)
