"""EC2 user data, rendered and executed by bash with shims for shutdown, python and dnf (as cloud-init would run it)."""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ml_lifecycle.compute.ec2.user_data import HEREDOC_TERMINATOR, UserDataValues, render_user_data
from ml_lifecycle.core.ec2.launch import EC2_USER_DATA_LIMIT_BYTES
from ml_lifecycle.errors import SpecError

# The commands the script needs besides the shims; nothing else is on PATH, so no real python3 or dnf is found.
TOOLS = ("tee", "mkdir", "dirname", "mktemp", "tar", "gzip", "rm", "touch")
MARKER = "agent bundle marker\n"

PYTHON_SHIM = f"""#!{sys.executable}
import json, os, sys
prog = os.path.basename(sys.argv[0])
args = sys.argv[1:]
event = {{"prog": prog, "argv": args}}
code = 0
if args[:1] == ["-c"]:
    event["mode"] = "version"
    code = 1 if os.environ.get("SHIM_OLD_PYTHON") and prog == "python3" else 0
elif args[:1] == ["-"]:
    event["mode"] = "fetch"
    event["stdin"] = sys.stdin.read()
    if os.environ.get("SHIM_FETCH_FAILS"):
        code = 1
    else:
        with open(os.environ["SHIM_TARBALL"], "rb") as src, open(args[2], "wb") as dest:
            dest.write(src.read())
elif args[:2] == ["-m", "ml_lifecycle.agent.instance"]:
    event["mode"] = "agent"
    event["pythonpath"] = os.environ.get("PYTHONPATH")
    event["region"] = [os.environ.get("AWS_REGION"), os.environ.get("AWS_DEFAULT_REGION")]
    with open(os.path.join(os.environ["PYTHONPATH"], "marker.txt")) as marker:
        event["marker"] = marker.read()
    print("agent says hello")
    code = int(os.environ.get("SHIM_AGENT_EXIT", "0"))
with open(os.environ["SHIM_EVENTS"], "a") as events:
    events.write(json.dumps(event) + "\\n")
sys.exit(code)
"""

SHUTDOWN_SHIM = f"""#!{sys.executable}
import json, os, sys
fails = os.environ.get("SHIM_SHUTDOWN_FAILS") and sys.argv[1:] != ["-h", "now"]
with open(os.environ["SHIM_EVENTS"], "a") as events:
    events.write(json.dumps({{"prog": "shutdown", "argv": sys.argv[1:]}}) + "\\n")
sys.exit(1 if fails else 0)
"""

DNF_SHIM = f"""#!{sys.executable}
import json, os, shutil, sys
with open(os.environ["SHIM_EVENTS"], "a") as events:
    events.write(json.dumps({{"prog": "dnf", "argv": sys.argv[1:]}}) + "\\n")
folder = os.path.dirname(os.path.abspath(sys.argv[0]))
shutil.copy2(os.path.join(folder, "python3"), os.path.join(folder, "python3.11"))
"""


@dataclass
class Run:
    """One execution of the rendered script."""

    returncode: int
    output: str
    events: list[dict[str, Any]]
    log: str

    def progs(self) -> list[str]:
        """Return each event as ``prog mode-or-args`` for order checks."""
        return [f"{e['prog']} {e.get('mode') or ' '.join(e['argv'])}" for e in self.events]


def _tarball(path: Path) -> None:
    """Write a small real agent bundle with one marker file."""
    data = MARKER.encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("marker.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def _machine(root: Path, *, python: tuple[str, ...] = ("python3", "python3.11"), dnf: bool = True) -> Path:
    """Make a bin folder with the shims and the few real tools the script uses; return it.

    :param root: the test's folder.
    :param python: the python names present (dnf installs python3.11 by copying the python3 shim).
    :param dnf: whether dnf is present.
    """
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        (bin_dir / tool).symlink_to(shutil.which(tool) or pytest.fail(f"{tool} is not installed"))
    shims = {"shutdown": SHUTDOWN_SHIM, **dict.fromkeys(python, PYTHON_SHIM)}
    if dnf:
        shims["dnf"] = DNF_SHIM
    for name, text in shims.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def _run(script: str, root: Path, bin_dir: Path, **env: str) -> Run:
    """Execute the rendered user data with a clean environment, as root's cloud-init would."""
    path = root / "user-data"
    path.write_text(script)
    path.chmod(0o755)
    _tarball(root / "bundle.tar.gz")
    events = root / "events.jsonl"
    log = root / "log" / "user-data.log"
    result = subprocess.run(
        [str(path)],
        env={
            "PATH": str(bin_dir),
            "HOME": str(root / "home"),
            "TMPDIR": str(root),
            "SHIM_EVENTS": str(events),
            "SHIM_TARBALL": str(root / "bundle.tar.gz"),
            "ML_LIFECYCLE_USER_DATA_LOG": str(log),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=root,
    )
    lines = events.read_text().splitlines() if events.exists() else []
    return Run(
        result.returncode,
        result.stdout + result.stderr,
        [json.loads(line) for line in lines],
        log.read_text() if log.exists() else "",
    )


def _values(root: Path, **overrides: Any) -> UserDataValues:
    fields: dict[str, Any] = {
        "job_name": "job-1",
        "region": "us-east-1",
        "bundle_uri": "s3://bucket/out/job-1/staging/agent.tar.gz",
        "job_document_uri": "s3://bucket/out/job-1/staging/job.json",
        "deadline_minutes": 95,
        "agent_dir": str(root / "agent"),
    }
    fields.update(overrides)
    return UserDataValues(**fields)


def test_runs_deadline_first_then_fetch_agent_and_shutdown_last(tmp_path: Path) -> None:
    values = _values(tmp_path)
    run = _run(render_user_data(values), tmp_path, _machine(tmp_path))

    assert run.returncode == 0, run.output
    assert run.progs() == [
        "shutdown -h +95",
        "python3.11 version",
        "python3.11 fetch",
        "python3.11 agent",
        "shutdown -h now",
    ]
    fetch, agent = run.events[2], run.events[3]
    assert fetch["argv"][1] == values.bundle_uri
    assert fetch["stdin"].startswith('"""Download one s3:// object')
    assert agent["argv"] == ["-m", "ml_lifecycle.agent.instance", values.job_document_uri]
    assert agent["pythonpath"] == values.agent_dir
    assert agent["marker"] == MARKER
    assert agent["region"] == ["us-east-1", "us-east-1"]
    assert "agent says hello" in run.log
    assert "ml-lifecycle: starting the agent" in run.log
    assert list(tmp_path.glob("tmp.*/agent.tar.gz")) == []  # the bundle is removed once unpacked


def test_the_fetcher_arrives_on_stdin_unexpanded(tmp_path: Path) -> None:
    source = f"# $HOME `touch {tmp_path}/pwned` $(touch {tmp_path}/pwned) ${{HOME}} \\\nprint('hi')\n"
    run = _run(render_user_data(_values(tmp_path), fetcher_source=source), tmp_path, _machine(tmp_path))
    assert run.returncode == 0, run.output
    fetch = next(event for event in run.events if event.get("mode") == "fetch")
    assert fetch["stdin"].rstrip("\n") == source.rstrip("\n")
    assert not (tmp_path / "pwned").exists()


def test_packaged_fetcher_is_what_python_reads(tmp_path: Path) -> None:
    import importlib.resources

    source = importlib.resources.files("ml_lifecycle.compute.ec2").joinpath("bootstrap_fetch.py").read_text()
    run = _run(render_user_data(_values(tmp_path)), tmp_path, _machine(tmp_path))
    fetch = next(event for event in run.events if event.get("mode") == "fetch")
    assert fetch["stdin"].rstrip("\n") == source.rstrip("\n")


@pytest.mark.parametrize("exit_code", [1, 3])
def test_agent_failure_still_shuts_down_last(tmp_path: Path, exit_code: int) -> None:
    run = _run(render_user_data(_values(tmp_path)), tmp_path, _machine(tmp_path), SHIM_AGENT_EXIT=str(exit_code))
    assert run.returncode == exit_code
    assert run.progs()[0] == "shutdown -h +95"
    assert run.progs()[-2:] == ["python3.11 agent", "shutdown -h now"]
    assert f"the agent exited with status {exit_code}" in run.log


def test_fetch_failure_skips_the_agent_and_shuts_down(tmp_path: Path) -> None:
    run = _run(render_user_data(_values(tmp_path)), tmp_path, _machine(tmp_path), SHIM_FETCH_FAILS="1")
    assert run.returncode != 0
    assert run.progs() == ["shutdown -h +95", "python3.11 version", "python3.11 fetch", "shutdown -h now"]


def test_installs_python_with_dnf_when_none_is_new_enough(tmp_path: Path) -> None:
    run = _run(
        render_user_data(_values(tmp_path)), tmp_path, _machine(tmp_path, python=("python3",)), SHIM_OLD_PYTHON="1"
    )
    assert run.returncode == 0, run.output
    assert run.progs() == [
        "shutdown -h +95",
        "python3 version",
        "dnf install -y python3.11",
        "python3.11 fetch",
        "python3.11 agent",
        "shutdown -h now",
    ]


def test_no_python_and_no_dnf_fails_and_shuts_down(tmp_path: Path) -> None:
    run = _run(render_user_data(_values(tmp_path)), tmp_path, _machine(tmp_path, python=(), dnf=False))
    assert run.returncode == 1
    assert run.progs() == ["shutdown -h +95", "shutdown -h now"]
    assert "no python >= 3.11" in run.log


def test_a_deadline_that_cannot_be_scheduled_powers_off_now(tmp_path: Path) -> None:
    run = _run(render_user_data(_values(tmp_path)), tmp_path, _machine(tmp_path), SHIM_SHUTDOWN_FAILS="1")
    assert run.returncode == 1
    assert run.progs() == ["shutdown -h +95", "shutdown -h now"]


def _endpoint_values(root: Path) -> UserDataValues:
    """Values of an endpoint's instance: no deadline, and it keeps running when the agent exits 0."""
    return _values(root, deadline_minutes=None, power_off_on_success=False)


def test_an_endpoint_instance_has_no_deadline_and_keeps_running_after_its_agent(tmp_path: Path) -> None:
    run = _run(render_user_data(_endpoint_values(tmp_path)), tmp_path, _machine(tmp_path))
    assert run.returncode == 0, run.output
    assert run.progs() == ["python3.11 version", "python3.11 fetch", "python3.11 agent"]
    assert "deadline in no min" in run.log
    assert "the instance keeps running" in run.log


@pytest.mark.parametrize("exit_code", [1, 3])
def test_an_endpoint_instance_whose_agent_fails_powers_off(tmp_path: Path, exit_code: int) -> None:
    run = _run(
        render_user_data(_endpoint_values(tmp_path)), tmp_path, _machine(tmp_path), SHIM_AGENT_EXIT=str(exit_code)
    )
    assert run.returncode == exit_code
    assert run.progs() == ["python3.11 version", "python3.11 fetch", "python3.11 agent", "shutdown -h now"]
    assert f"the agent exited with status {exit_code}; powering off" in run.log


def test_an_endpoint_instance_whose_boot_fails_powers_off(tmp_path: Path) -> None:
    run = _run(render_user_data(_endpoint_values(tmp_path)), tmp_path, _machine(tmp_path), SHIM_FETCH_FAILS="1")
    assert run.returncode != 0
    assert run.progs() == ["python3.11 version", "python3.11 fetch", "shutdown -h now"]


def _hostile(marker: Path) -> list[str]:
    """Values that would run `touch` (or break out of quoting) if any were emitted unquoted."""
    return [
        f"$(touch {marker})",
        f"`touch {marker}`",
        f"'; touch {marker}; '",
        f'"; touch {marker}; "',
        f"s3://b/k'$(touch {marker})'\"`touch {marker}`\"",
        f"x\ntouch {marker}\n",
        "${HOME} $HOME \\ \\n !! *",
        f"ML_LIFECYCLE_FETCH\ntouch {marker}",
    ]


@pytest.mark.parametrize("field", ["job_document_uri", "bundle_uri", "region", "job_name"])
@pytest.mark.parametrize("index", range(8))
def test_hostile_values_arrive_unchanged_and_never_run(tmp_path: Path, field: str, index: int) -> None:
    marker = tmp_path / f"pwned-{secrets.token_hex(4)}"
    value = _hostile(marker)[index]
    values = _values(tmp_path, **{field: value})

    run = _run(render_user_data(values), tmp_path, _machine(tmp_path))

    assert run.returncode == 0, run.output
    assert not marker.exists()
    fetch = next(event for event in run.events if event.get("mode") == "fetch")
    agent = next(event for event in run.events if event.get("mode") == "agent")
    assert fetch["argv"][1] == values.bundle_uri
    assert agent["argv"][2] == values.job_document_uri
    assert agent["region"] == [values.region, values.region]
    assert f"ml-lifecycle: job {values.job_name} in {values.region};" in run.log


def test_hostile_agent_dir_is_used_quoted(tmp_path: Path) -> None:
    marker = tmp_path / "pwned-dir"
    agent_dir = str(tmp_path / f"agent dir $(touch {marker}) `touch {marker}`")
    run = _run(render_user_data(_values(tmp_path, agent_dir=agent_dir)), tmp_path, _machine(tmp_path))
    assert run.returncode == 0, run.output
    assert not marker.exists()
    agent = next(event for event in run.events if event.get("mode") == "agent")
    assert agent["pythonpath"] == agent_dir
    assert (Path(agent_dir) / "marker.txt").read_text() == MARKER


def test_the_hostile_values_are_live(tmp_path: Path) -> None:
    """Control: emitted unquoted, the payload does run touch on this machine (so the tests above can fail)."""
    marker = tmp_path / "pwned-control"
    subprocess.run(["bash", "-c", f"X={_hostile(marker)[0]}"], check=True, env={"PATH": os.environ["PATH"]})
    assert marker.exists()


def test_rendered_text_never_holds_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets_in_env = {
        "AWS_ACCESS_KEY_ID": "AKIAUSERDATALEAKTEST",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-user-data-leak-secret",
        "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjEUSERDATALEAK",
    }
    for name, value in secrets_in_env.items():
        monkeypatch.setenv(name, value)
    text = render_user_data(_values(tmp_path))
    for value in secrets_in_env.values():
        assert value not in text


def test_every_value_is_shell_quoted(tmp_path: Path) -> None:
    text = render_user_data(_values(tmp_path, job_name="a b", region="it's", bundle_uri="s3://b/k"))
    assert "JOB_NAME='a b'\n" in text
    assert "REGION='it'\"'\"'s'\n" in text
    assert "BUNDLE_URI=s3://b/k\n" in text  # shlex leaves safe text bare: nothing to expand or split
    assert "DEADLINE_MINUTES=95\n" in text
    assert text.startswith("#!/bin/bash\n")


def test_size_limit(tmp_path: Path) -> None:
    long_uri = "s3://bucket/" + "k" * EC2_USER_DATA_LIMIT_BYTES
    with pytest.raises(SpecError, match=r"^user_data: the rendered script is \d+ bytes, over EC2's 16384"):
        render_user_data(_values(tmp_path, job_document_uri=long_uri))


@pytest.mark.parametrize(
    "source",
    [
        f"print(1)\n{HEREDOC_TERMINATOR}\nprint(2)\n",
        f"print(1)\n  {HEREDOC_TERMINATOR}  \n",
        "print('{% endraw %}')\n",
    ],
    ids=["terminator", "terminator-spaces", "endraw"],
)
def test_refuses_a_fetcher_that_would_end_its_heredoc(tmp_path: Path, source: str) -> None:
    with pytest.raises(SpecError, match=r"^fetcher_source: "):
        render_user_data(_values(tmp_path), fetcher_source=source)


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [
        ({"deadline_minutes": 0}, "deadline_minutes"),
        ({"deadline_minutes": "5"}, "deadline_minutes"),
        ({"deadline_minutes": True}, "deadline_minutes"),
        ({"power_off_on_success": "no"}, "power_off_on_success"),
        ({"power_off_on_success": None}, "power_off_on_success"),
        ({"job_name": ""}, "job_name"),
        ({"bundle_uri": "s3://b/\0k"}, "bundle_uri"),
        ({"region": None}, "region"),
        ({"agent_dir": "relative/dir"}, "agent_dir"),
        ({"agent_dir": "/"}, "agent_dir"),
        ({"agent_dir": "//."}, "agent_dir"),
    ],
)
def test_values_are_validated(tmp_path: Path, overrides: dict[str, Any], parameter: str) -> None:
    with pytest.raises(SpecError) as info:
        _values(tmp_path, **overrides)
    assert info.value.parameter == parameter
