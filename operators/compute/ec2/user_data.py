"""Render the EC2 user data that boots an instance into the job agent; every template value is shell-quoted."""

from __future__ import annotations

import importlib.resources
import posixpath
import shlex
from dataclasses import dataclass, fields
from typing import Any

import jinja2

from ml_lifecycle.core.ec2.launch import EC2_USER_DATA_LIMIT_BYTES
from ml_lifecycle.errors import SpecError

TEMPLATE = "user_data.sh.j2"
FETCHER = "bootstrap_fetch.py"
HEREDOC_TERMINATOR = "ML_LIFECYCLE_FETCH"
DEFAULT_AGENT_DIR = "/opt/ml-lifecycle/agent"
_PACKAGE = "ml_lifecycle.compute.ec2"


@dataclass(frozen=True)
class UserDataValues:
    """What the boot script of one job's instances needs to know (no credentials, no job configuration).

    :param job_name: the job name (for the log).
    :param region: the AWS region (AWS_REGION/AWS_DEFAULT_REGION for the fetcher and agent, unless set).
    :param bundle_uri: the agent bundle, ``s3://.../staging/agent.tar.gz``.
    :param job_document_uri: the job document, ``s3://.../staging/job.json``, passed to the agent.
    :param deadline_minutes: whole minutes after boot at which the instance powers off (and terminates), >= 1;
        None for no deadline (an endpoint's instances serve until the endpoint is deleted or updated).
    :param agent_dir: an absolute folder the bundle is unpacked into (the agent's PYTHONPATH).
    :param power_off_on_success: power off when the agent exits 0 (default); False keeps the instance running
        (an endpoint's agent exits 0 with its container serving). A failure of the agent or the boot always powers off.
    """

    job_name: str
    region: str
    bundle_uri: str
    job_document_uri: str
    deadline_minutes: int | None
    agent_dir: str = DEFAULT_AGENT_DIR
    power_off_on_success: bool = True

    def __post_init__(self) -> None:
        """Validate every field: text without NUL bytes, a positive deadline, an absolute agent folder."""
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "deadline_minutes":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                    raise SpecError(
                        "deadline_minutes", f"{value!r} is not a whole number >= 1", "Use deadline_minutes() or None"
                    )
            elif item.name == "power_off_on_success":
                if not isinstance(value, bool):
                    raise SpecError("power_off_on_success", f"{value!r} is not True or False", "Pass a bool")
            elif not isinstance(value, str) or not value or "\0" in value:
                raise SpecError(item.name, f"{value!r} is not a non-empty string without NUL", "Pass plain text")
        if not posixpath.isabs(self.agent_dir) or not posixpath.normpath(self.agent_dir).strip("/"):
            raise SpecError("agent_dir", f"{self.agent_dir!r} is not an absolute folder", "Write e.g. /opt/agent")


def _shell_quote(value: Any) -> str:
    """Quote any template value for a POSIX shell (the environment's finalize: nothing is emitted unquoted).

    :param value: the value of a ``{{ }}`` expression.
    """
    return shlex.quote(str(value))


def _package_text(name: str) -> str:
    """Return a text file shipped in this package.

    :param name: the file name.
    """
    return importlib.resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def _check_fetcher(source: str) -> None:
    """Refuse a fetcher source that would end the heredoc (or the Jinja raw block) it is embedded in early.

    :param source: the fetcher's Python source.
    """
    if any(line.strip() == HEREDOC_TERMINATOR for line in source.splitlines()):
        raise SpecError("fetcher_source", f"has a line {HEREDOC_TERMINATOR!r}", "Remove it: it ends the heredoc")
    if "endraw" in source:
        raise SpecError("fetcher_source", "contains 'endraw'", "Remove it: it ends the Jinja raw block")


def _environment(fetcher_source: str) -> jinja2.Environment:
    """Build the Jinja environment: strict, unescaped, every expression shell-quoted, the fetcher included raw.

    :param fetcher_source: the fetcher's Python source.
    """
    sources = {TEMPLATE: _package_text(TEMPLATE), FETCHER: "{% raw %}" + fetcher_source + "{% endraw %}"}

    def load(name: str) -> tuple[str, None, Any]:
        if name not in sources:
            raise jinja2.TemplateNotFound(name)
        return sources[name], None, lambda: True

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=_shell_quote,
        keep_trailing_newline=True,
    )


def render_user_data(values: UserDataValues, *, fetcher_source: str | None = None) -> str:
    """Render the boot script of a job's instances.

    :param values: the job's boot values.
    :param fetcher_source: the S3 fetcher's source; default the packaged bootstrap_fetch.py.
    """
    source = _package_text(FETCHER) if fetcher_source is None else fetcher_source
    _check_fetcher(source)
    text = _environment(source).get_template(TEMPLATE).render(values=values)
    size = len(text.encode())
    if size > EC2_USER_DATA_LIMIT_BYTES:
        raise SpecError(
            "user_data",
            f"the rendered script is {size} bytes, over EC2's {EC2_USER_DATA_LIMIT_BYTES}",
            "Shorten the output_path (the URIs are embedded) or the job name",
        )
    return text
