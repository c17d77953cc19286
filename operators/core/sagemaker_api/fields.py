"""Field tables for SageMaker API requests: what each request field becomes here, walked field by field.

A table lists every field path we know (``AlgorithmSpecification.TrainingImage``, ``InputDataConfig[].ChannelName``)
with what it does here: set an operator parameter, accepted with no effect, or refused with what to do instead. A
request field in no table is refused by name, so nothing a caller asks for is silently dropped. The README's table
of supported fields is rendered from the same tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.core.errors import SpecError

# apply(kwargs being built, the field's value, the indexes of the lists it is in)
Apply = Callable[[dict[str, Any], Any, tuple[int, ...]], None]
NO_EFFECT = "accepted; changes nothing here"
# Why an output KMS key or encrypted traffic between hosts is refused (the same for every kind of job).
BUCKET_ENCRYPTION = "uploads here use the bucket's default encryption: set a KMS key as the bucket's default instead"
PLAIN_TRAFFIC = "traffic between a job's hosts is not encrypted here: keep the job in a private subnet"


@dataclass(frozen=True)
class FieldRule:
    """What one request field does here.

    :param path: the field's path, lists marked ``[]`` (``InputDataConfig[].ChannelName``).
    :param effect: in words, for the README: the parameter it sets, or why it is accepted or refused.
    :param apply: sets the operator's keyword arguments from the value; None for a field with no effect.
    :param refused: why the field cannot be honoured, or None; refused fields fail the request by name.
    :param allowed: values accepted as they are (SageMaker's defaults), for a field refused otherwise.
    """

    path: str
    effect: str
    apply: Apply | None = None
    refused: str | None = None
    allowed: tuple[Any, ...] = ()


def maps_to(path: str, parameter: str, convert: Callable[[Any], Any] = lambda v: v) -> FieldRule:
    """Return a rule that sets one operator parameter from the field's value.

    :param path: the field's path.
    :param parameter: the operator parameter.
    :param convert: turns the value into the parameter's form.
    """

    def apply(kwargs: dict[str, Any], value: Any, _: tuple[int, ...]) -> None:
        kwargs[parameter] = convert(value)

    return FieldRule(path, f"`{parameter}`", apply)


def into(path: str, parameter: str, key: str, effect: str | None = None) -> FieldRule:
    """Return a rule that sets one key of a dict parameter (``ec2_settings["volume_size_gb"]``).

    :param path: the field's path.
    :param parameter: the dict parameter.
    :param key: its key.
    :param effect: the README's words, if not the default.
    """

    def apply(kwargs: dict[str, Any], value: Any, _: tuple[int, ...]) -> None:
        kwargs.setdefault(parameter, {})[key] = value

    return FieldRule(path, effect or f"`{parameter}['{key}']`", apply)


def volume_rule(path: str) -> FieldRule:
    """Return the rule of a VolumeSizeInGB field: SageMaker's storage volume, at least that much on the EC2
    instance's root volume, which is never under EC2's minimum (SageMaker accepts 1 GB).

    :param path: the field's path.
    """
    from ml_lifecycle.core.ec2.settings import MIN_VOLUME_GB

    def apply(kwargs: dict[str, Any], value: Any, _: tuple[int, ...]) -> None:
        kwargs.setdefault("ec2_settings", {})["volume_size_gb"] = max(int(value), MIN_VOLUME_GB)

    return FieldRule(
        path, f"`ec2_settings['volume_size_gb']`, at least {MIN_VOLUME_GB} (EC2's smallest root volume)", apply
    )


def no_effect(path: str, why: str = NO_EFFECT) -> FieldRule:
    """Return a rule for a field that is accepted and changes nothing here.

    :param path: the field's path.
    :param why: the README's words.
    """
    return FieldRule(path, why)


def refused(path: str, why: str, allowed: tuple[Any, ...] = ()) -> FieldRule:
    """Return a rule for a field that cannot be honoured (unless its value is one of allowed).

    :param path: the field's path.
    :param why: what is not supported and what to do instead.
    :param allowed: values accepted as they are.
    """
    shown = f"only {', '.join(repr(v) for v in allowed)}: " if allowed else "refused: "
    return FieldRule(path, shown + why, refused=why, allowed=allowed)


def vpc_rule(parameter: str, prefix: str = "") -> FieldRule:
    """Return the rule of VpcConfig.Subnets or SecurityGroupIds (the first subnet: the instances of a job or fleet share one).

    :param parameter: ``Subnets`` or ``SecurityGroupIds``.
    :param prefix: the path of VpcConfig's parent, with its dot (``NetworkConfig.``), or "" at the top.
    """
    key = "subnet_id" if parameter == "Subnets" else "security_group_ids"
    path = f"{prefix}VpcConfig.{parameter}"

    def apply(kwargs: dict[str, Any], value: Any, _: tuple[int, ...]) -> None:
        if not isinstance(value, list) or not value:
            raise SpecError(path, f"{value!r} is not a list of ids", "Give at least one id")
        kwargs.setdefault("ec2_settings", {})[key] = value[0] if key == "subnet_id" else list(value)

    return FieldRule(path, f"`ec2_settings['{key}']`", apply)


def apply_rules(request: Mapping[str, Any], rules: Sequence[FieldRule], what: str) -> dict[str, Any]:
    """Walk every field of a request through the rules and return the operator's keyword arguments.

    :param request: the request (botocore's input shape, as JSON).
    :param rules: the request's field table.
    :param what: the request's name in messages, e.g. ``CreateTrainingJob``.
    """
    if not isinstance(request, Mapping):
        raise SpecError(what, f"is {type(request).__name__}, not a request", "Pass the request as a dict (JSON object)")
    table = {rule.path: rule for rule in rules}
    kwargs: dict[str, Any] = {}
    for path, value, indexes in _fields(request, table, "", ()):
        rule = table.get(path)
        if rule is None:
            raise SpecError(
                path,
                f"is not a field of {what} that runs here",
                "Remove it (the README's table lists the fields and what each does here)",
            )
        if rule.refused is not None and value not in rule.allowed:
            raise SpecError(path, f"{value!r} cannot be honoured here", rule.refused)
        if rule.apply is not None:
            rule.apply(kwargs, value, indexes)
    return kwargs


def _fields(
    value: Any, table: Mapping[str, FieldRule], path: str, indexes: tuple[int, ...]
) -> Iterator[tuple[str, Any, tuple[int, ...]]]:
    """Yield (path, value, list indexes) for every field the table has a rule for, or that it does not know.

    :param value: the value at path.
    :param table: path -> rule.
    :param path: where value is.
    :param indexes: the indexes of the lists path is in.
    """
    if path in table:
        yield path, value, indexes
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _fields(item, table, f"{path}.{key}" if path else str(key), indexes)
    elif isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
        for index, item in enumerate(value):
            yield from _fields(item, table, f"{path}[]", (*indexes, index))
    else:
        yield path, value, indexes


def rules_table(rules: Sequence[FieldRule]) -> list[tuple[str, str]]:
    """Return (field, what it does here) rows, in the table's order, for the README.

    :param rules: a request's field table.
    """
    return [(rule.path, rule.effect) for rule in rules]


def with_overrides(translated: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Return an operator's keyword arguments: the translated request's, then the caller's (which win), with the
    keys of ``ec2_settings`` merged.

    :param translated: what a request's translation gave.
    :param overrides: the caller's own parameters (task_id, compute, ...).
    """
    merged = {**translated, **overrides}
    if "ec2_settings" in translated and "ec2_settings" in overrides:
        merged["ec2_settings"] = {**translated["ec2_settings"], **(overrides["ec2_settings"] or {})}
    return merged
