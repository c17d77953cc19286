"""TrainingRunner starts, removes and cleans up a job's hosts together; follow() notices the agent's end."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ml_lifecycle.compute.local.engine.docker_engine import ImageInfo
from ml_lifecycle.compute.local.follow import follow
from ml_lifecycle.compute.local.training.runner import TrainingRunner, in_parallel
from ml_lifecycle.core import labels
from ml_lifecycle.core.specs import Channel, TrainingSpec
from ml_lifecycle.errors import EngineError, JobFailed
from ml_lifecycle.stores import store_for


class FakeEngine:
    """Just enough of DockerEngine for a TrainingRunner: containers that exit at once with code 0."""

    def __init__(self, failing_host: str | None = None) -> None:
        """Start with no containers or networks.

        :param failing_host: a host whose container fails to start, or None.
        """
        self.failing_host = failing_host
        self.containers_by_name: dict[str, SimpleNamespace] = {}
        self.networks_by_name: dict[str, dict[str, str]] = {}
        self.image_lookups = 0
        self.lock = threading.Lock()

    def ensure_image(self, ref: str) -> ImageInfo:
        """Return a made-up image.

        :param ref: the reference.
        """
        self.image_lookups += 1
        return ImageInfo(ref=ref, image_id="sha256:fake", digest="")

    def create_network(self, name: str, run_labels: Mapping[str, str], *, internal: bool = False) -> str:
        """Remember a network.

        :param name: its name.
        :param run_labels: its labels.
        :param internal: unused.
        """
        self.networks_by_name[name] = dict(run_labels)
        return name

    @staticmethod
    def host_addresses(network: str, hosts: list[str]) -> dict[str, str]:
        """Give each host an address.

        :param network: unused.
        :param hosts: the hosts.
        """
        return {host: f"10.0.0.{index + 2}" for index, host in enumerate(hosts)}

    def run(self, *, name: str, labels: Mapping[str, str], hostname: str, **_: Any) -> SimpleNamespace:
        """Start a container, or fail for the failing host.

        :param name: the container name.
        :param labels: its labels.
        :param hostname: its host name.
        """
        if hostname == self.failing_host:
            raise EngineError(f"cannot start {hostname}")
        container = SimpleNamespace(name=name, labels=dict(labels))
        with self.lock:
            self.containers_by_name[name] = container
        return container

    @staticmethod
    def follow_logs(container: SimpleNamespace) -> Iterator[str]:
        """Yield one line.

        :param container: the container.
        """
        yield f"hello from {container.name}"

    @staticmethod
    def wait(container: SimpleNamespace) -> int:
        """Exit at once, successfully.

        :param container: the container.
        """
        return 0

    @staticmethod
    def oom_killed(container: SimpleNamespace) -> bool:
        """Say no.

        :param container: the container.
        """
        return False

    def remove(self, container: SimpleNamespace) -> None:
        """Forget a container.

        :param container: the container.
        """
        with self.lock:
            self.containers_by_name.pop(container.name, None)

    def containers(self, wanted: Mapping[str, str]) -> list[SimpleNamespace]:
        """List the containers carrying every given label.

        :param wanted: label -> value.
        """
        with self.lock:
            found = list(self.containers_by_name.values())
        return [c for c in found if all(c.labels.get(k) == v for k, v in wanted.items())]

    def remove_network(self, name: str) -> None:
        """Forget a network.

        :param name: its name.
        """
        self.networks_by_name.pop(name, None)

    @staticmethod
    def log_tail(container: SimpleNamespace) -> str:
        """Return nothing.

        :param container: the container.
        """
        return ""

    @staticmethod
    def machine() -> tuple[int, int]:
        """Say the machine has 8 GiB and 2 CPUs."""
        return 8 << 30, 2


def _spec(tmp_path: Path) -> TrainingSpec:
    """A three-host spec over a small local channel.

    :param tmp_path: the test's folder.
    """
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("1,2\n")
    return TrainingSpec(
        image_uri="example/linear:1",
        channels={"train": Channel(uri=f"file://{data}")},
        output_path=f"file://{tmp_path / 'out'}",
        instance_count=3,
    )


def test_in_parallel_returns_each_result_under_its_key() -> None:
    assert in_parallel({"a": lambda: 1, "b": lambda: 2, "c": lambda: 3}) == {"a": 1, "b": 2, "c": 3}


def test_in_parallel_runs_every_call_before_raising_the_first_error() -> None:
    ran: list[str] = []

    def call(key: str, fail: bool) -> str:
        ran.append(key)
        if fail:
            raise ValueError(key)
        return key

    with pytest.raises(ValueError, match=r"^b$"):
        in_parallel({key: lambda key=key: call(key, key in "bc") for key in "abcd"})
    assert sorted(ran) == ["a", "b", "c", "d"]


def test_three_hosts_run_and_nothing_is_left(tmp_path: Path) -> None:
    engine = FakeEngine()
    runner = TrainingRunner(engine, store_for, tmp_path / "work", "us-east-1")  # type: ignore[arg-type]
    lines: list[str] = []
    image = ImageInfo(ref="example/linear:1", image_id="sha256:given", digest="")

    record = runner.run(_spec(tmp_path), "job-1", {"dag_id": "d"}, lines.append, image=image)

    assert record.status == "Completed" and record.image_digest == "sha256:given"
    assert engine.image_lookups == 0
    assert {line for line in lines if line.startswith("[")} == {
        f"[algo-{i}] hello from mlc-job-1-algo-{i}" for i in (1, 2, 3)
    }
    assert engine.containers_by_name == {} and engine.networks_by_name == {}
    assert not (tmp_path / "work" / "jobs" / "job-1").exists()


def test_a_host_that_fails_to_start_fails_the_job_and_its_peers_are_removed(tmp_path: Path) -> None:
    engine = FakeEngine(failing_host="algo-2")
    runner = TrainingRunner(engine, store_for, tmp_path / "work", "us-east-1")  # type: ignore[arg-type]

    with pytest.raises(EngineError, match="cannot start algo-2"):
        runner.run(_spec(tmp_path), "job-2", {"dag_id": "d"}, lambda _: None)

    assert engine.containers({labels.JOB: "job-2"}) == []
    assert engine.networks_by_name == {}
    record = (tmp_path / "out" / "job-2" / "status.json").read_text()
    assert '"status": "Failed"' in record


def test_a_failed_job_raises_job_failed_after_removing_everything(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.wait = lambda container: 3 if container.name.endswith("algo-3") else 0  # type: ignore[method-assign]
    runner = TrainingRunner(engine, store_for, tmp_path / "work", "us-east-1")  # type: ignore[arg-type]

    with pytest.raises(JobFailed):
        runner.run(_spec(tmp_path), "job-3", {"dag_id": "d"}, lambda _: None)

    assert engine.containers_by_name == {} and engine.networks_by_name == {}


def test_follow_copies_the_log_of_an_own_child_and_reaps_it(tmp_path: Path) -> None:
    log_path = tmp_path / "agent.log"
    pid = os.fork()
    if pid == 0:  # the child writes its log and exits
        with open(log_path, "w") as out:
            out.write("one\ntwo\n")
        os._exit(0)
    lines: list[str] = []

    follow(pid, log_path, lines.append, own_child=True)

    assert lines == ["one", "two"]
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_follow_ends_with_a_process_it_did_not_start(tmp_path: Path) -> None:
    log_path = tmp_path / "agent.log"
    script = f"open({str(log_path)!r}, 'w').write('done\\n')"
    process = subprocess.Popen([sys.executable, "-c", script])
    lines: list[str] = []
    try:
        follow(process.pid, log_path, lines.append, own_child=False)
    finally:
        process.wait()

    assert lines == ["done"]
