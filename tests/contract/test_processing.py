"""SageMaker Processing's contract, field by field, on every backend (the local engine, and EC2 emulated on moto).

Each job writes what its containers saw into an output, so the test reads it where the job uploaded it: inputs staged
at their LocalPaths (S3Prefix, ManifestFile, ShardedByS3Key, Gzip), ContainerEntrypoint and ContainerArguments, the
environment, /opt/ml/config's two documents, several hosts, outputs uploaded only when the job completed, the
failure reason, max runtime and network isolation.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest
from support.helpers import task_context

from ml_lifecycle.base import identity_from_context
from ml_lifecycle.compute.lifecycle import run_job
from ml_lifecycle.core.job_kinds import PROCESSING
from ml_lifecycle.core.naming import RunIdentity, job_name
from ml_lifecycle.core.status import JobStatus, SecondaryStatus
from ml_lifecycle.errors import JobFailed, SpecError

pytestmark = pytest.mark.docker

# Each host writes what it saw below /opt/ml/processing/report/<its host>/ (its name from resourceconfig.json).
REPORT = r"""set -e
HOST=$(python3 -c 'import json; print(json.load(open("/opt/ml/config/resourceconfig.json"))["current_host"])')
D=/opt/ml/processing/report/$HOST
mkdir -p "$D"
(cd /opt/ml/processing/input && find . -type f | sort) > "$D/inputs.txt"
cp /opt/ml/config/processingjobconfig.json /opt/ml/config/resourceconfig.json "$D/"
printf '%s\n' "$@" > "$D/arguments.txt"
printf '%s' "$GREETING" > "$D/environment.txt"
cat /opt/ml/processing/input/zipped/z.csv > "$D/unzipped.txt"
ls /sys/class/net > "$D/interfaces.txt"
"""


# ContainerEntrypoint strings hold at most 256 characters (SageMaker's limit): the script travels as an input.
RUN_REPORT = ["sh", "/opt/ml/processing/input/code/report.sh"]


def _code_input(place: Any, script: str = REPORT) -> dict[str, str]:
    """Upload the report script and return the input that stages it at /opt/ml/processing/input/code.

    :param place: the Place.
    :param script: the script.
    """
    place.put(f"{place.root}/pin/code/report.sh", script.encode())
    return {"name": "code", "source": f"{place.root}/pin/code", "local_path": "/opt/ml/processing/input/code"}


def _run(place: Any, spec: Any, identity: RunIdentity | None = None) -> Any:
    """Run a processing job of the place through the shared lifecycle; return its outcome.

    :param place: the Place.
    :param spec: the ProcessingSpec.
    :param identity: the task instance; None makes a fresh one.
    """
    jobs = place.backend.jobs(PROCESSING)
    identity = identity or identity_from_context(task_context())
    return run_job(jobs, spec, identity, lambda line: None, note_job=lambda name: None)


def _text(place: Any, uri: str) -> str:
    """Return an object's text, failing when the job did not upload it.

    :param place: the Place.
    :param uri: the object.
    """
    data = place.get(uri)
    assert data is not None, f"{uri} was not uploaded"
    return data.decode()


def test_every_input_output_and_config_field_reaches_the_containers_of_two_hosts(place) -> None:
    root = place.root
    for name in ("a", "b", "c", "d"):
        place.put(f"{root}/pin/all/{name}.csv", f"{name},1\n".encode())
    place.put(f"{root}/pin/listed.manifest", json.dumps([{"prefix": f"{root}/pin/all/"}, "b.csv", "d.csv"]).encode())
    place.put(f"{root}/pin/zipped/z.csv.gz", gzip.compress(b"unzipped,1\n"))
    inputs = [
        _code_input(place),
        {"name": "raw", "source": f"{root}/pin/all", "local_path": "/opt/ml/processing/input/raw"},
        {
            "name": "sharded",
            "source": f"{root}/pin/all",
            "local_path": "/opt/ml/processing/input/sharded",
            "distribution": "ShardedByS3Key",
        },
        {
            "name": "listed",
            "source": f"{root}/pin/listed.manifest",
            "local_path": "/opt/ml/processing/input/listed",
            "data_type": "ManifestFile",
        },
        {
            "name": "zipped",
            "source": f"{root}/pin/zipped",
            "local_path": "/opt/ml/processing/input/zipped",
            "compression": "Gzip",
        },
    ]
    outputs = [{"name": "report", "local_path": "/opt/ml/processing/report", "destination": f"{root}/report"}]
    spec = place.processing(
        inputs=inputs,
        outputs=outputs,
        entrypoint=RUN_REPORT,
        arguments=["alpha", "beta gamma"],
        environment={"GREETING": "hello processing"},
        instance_count=2,
        volume_size_gb=42,
        max_runtime_s=600,
    )

    outcome = _run(place, spec)

    assert outcome.status == JobStatus.COMPLETED
    assert outcome.to_xcom()["report"] == f"{root}/report"
    sharded: list[str] = []
    for host in ("algo-1", "algo-2"):
        seen = _text(place, f"{root}/report/{host}/inputs.txt").split()
        assert {"./raw/a.csv", "./raw/b.csv", "./raw/c.csv", "./raw/d.csv"} <= set(seen)
        assert [s for s in seen if s.startswith("./listed/")] == ["./listed/b.csv", "./listed/d.csv"]
        assert [s for s in seen if s.startswith("./zipped/")] == ["./zipped/z.csv"]
        sharded += [s for s in seen if s.startswith("./sharded/")]
        assert _text(place, f"{root}/report/{host}/unzipped.txt") == "unzipped,1\n"
        assert _text(place, f"{root}/report/{host}/arguments.txt").splitlines() == ["alpha", "beta gamma"]
        assert _text(place, f"{root}/report/{host}/environment.txt") == "hello processing"
        resources = json.loads(_text(place, f"{root}/report/{host}/resourceconfig.json"))
        assert resources == {"current_host": host, "hosts": ["algo-1", "algo-2"]}
    # ShardedByS3Key: each host got its own share; together every object once.
    assert sorted(sharded) == ["./sharded/a.csv", "./sharded/b.csv", "./sharded/c.csv", "./sharded/d.csv"]
    config = json.loads(_text(place, f"{root}/report/algo-1/processingjobconfig.json"))
    assert config["ProcessingJobName"] == outcome.job_name
    assert config["ProcessingJobArn"].endswith(f":processing-job/{outcome.job_name.lower()}")
    assert config["AppSpecification"] == {
        "ImageUri": spec.image_uri,
        "ContainerEntrypoint": RUN_REPORT,
        "ContainerArguments": ["alpha", "beta gamma"],
    }
    assert config["Environment"] == {"GREETING": "hello processing"}
    assert config["ProcessingResources"]["ClusterConfig"] == {
        "InstanceCount": 2,
        "InstanceType": spec.instance_type,
        "VolumeSizeInGB": 42,
        "VolumeKmsKeyId": None,
    }
    assert config["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    assert config["NetworkConfig"]["EnableNetworkIsolation"] is False
    sharded_input = next(i for i in config["ProcessingInputs"] if i["InputName"] == "sharded")
    assert sharded_input["S3Input"] == {
        "S3Uri": f"{root}/pin/all",
        "LocalPath": "/opt/ml/processing/input/sharded",
        "S3DataType": "S3Prefix",
        "S3InputMode": "File",
        "S3DataDistributionType": "ShardedByS3Key",
        "S3CompressionType": "None",
        "S3DownloadMode": "StartOfJob",
    }
    assert config["ProcessingOutputConfig"]["KmsKeyId"] is None
    assert config["ProcessingOutputConfig"]["Outputs"] == [
        {
            "OutputName": "report",
            "AppManaged": False,
            "S3Output": {
                "S3Uri": f"{root}/report",
                "LocalPath": "/opt/ml/processing/report",
                "S3UploadMode": "EndOfJob",
            },
        }
    ]


def test_a_failed_job_uploads_no_output_and_reports_its_failure_file(place) -> None:
    script = (
        "echo partial > /opt/ml/processing/output/partial.txt; echo 'the rows are bad' > /opt/ml/output/failure; exit 3"
    )
    spec = place.processing(script)

    with pytest.raises(JobFailed) as failed:
        _run(place, spec)

    assert "the rows are bad" in str(failed.value)
    assert place.get(f"{place.root}/processed/partial.txt") is None  # EndOfJob: only a completed job uploads
    record = place.backend.jobs(PROCESSING).find(spec, failed.value.job_name)
    assert record is not None and (record.status, record.kind) == (JobStatus.FAILED, "processing")


def test_a_job_past_max_runtime_is_stopped_as_max_runtime_exceeded(place) -> None:
    spec = place.processing("trap 'exit 143' TERM; sleep 300 & wait", max_runtime_s=3)

    with pytest.raises(JobFailed) as failed:
        _run(place, spec)

    record = place.backend.jobs(PROCESSING).find(spec, failed.value.job_name)
    assert record is not None and record.secondary_status == SecondaryStatus.MAX_RUNTIME_EXCEEDED
    assert SecondaryStatus.MAX_RUNTIME_EXCEEDED in str(failed.value)


def test_network_isolation_is_told_to_the_container_and_one_host_gets_no_network(place) -> None:
    outputs = [{"name": "report", "local_path": "/opt/ml/processing/report", "destination": f"{place.root}/isolated"}]
    script = REPORT.replace("cat /opt/ml/processing/input/zipped/z.csv", "true")
    spec = place.processing(
        inputs=[_code_input(place, script)],
        outputs=outputs,
        entrypoint=RUN_REPORT,
        arguments=None,
        enable_network_isolation=True,
    )

    _run(place, spec)

    config = json.loads(_text(place, f"{place.root}/isolated/algo-1/processingjobconfig.json"))
    assert config["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert config["AppSpecification"]["ContainerArguments"] is None  # unset: null, as SageMaker writes it
    assert _text(place, f"{place.root}/isolated/algo-1/interfaces.txt").split() == ["lo"]  # on an instance too


def test_an_empty_input_fails_before_anything_starts_naming_the_input(place) -> None:
    spec = place.processing(
        inputs=[{"name": "raw", "source": f"{place.root}/nothing-here", "local_path": "/opt/ml/processing/input"}]
    )

    identity = identity_from_context(task_context())
    with pytest.raises(SpecError, match=r"^inputs\['raw'\]: .* holds no objects"):
        _run(place, spec, identity)

    assert place.created(job_name(identity)) == 0


def test_a_continuous_output_is_uploaded_while_the_job_runs(place) -> None:
    outputs = [
        {
            "name": "live",
            "local_path": "/opt/ml/processing/live",
            "destination": f"{place.root}/live",
            "upload_mode": "Continuous",
        },
        {"name": "out", "local_path": "/opt/ml/processing/output", "destination": f"{place.root}/processed"},
    ]
    script = "echo early > /opt/ml/processing/live/early.txt; echo done > /opt/ml/processing/output/done.txt; sleep 25"
    spec = place.processing(script, outputs=outputs)
    jobs = place.backend.jobs(PROCESSING)
    identity = identity_from_context(task_context())
    started = run_job(jobs, spec, identity, lambda line: None, note_job=lambda name: None, wait=False)

    deadline = time.monotonic() + 20  # the sync runs every 10 s
    while place.get(f"{place.root}/live/early.txt") is None and time.monotonic() < deadline:
        time.sleep(0.5)

    assert place.get(f"{place.root}/live/early.txt") == b"early\n", "the Continuous output was not uploaded in time"
    assert jobs.find(spec, started.job_name).status == JobStatus.IN_PROGRESS
    assert place.get(f"{place.root}/processed/done.txt") is None  # EndOfJob waits for the end
    done = _run(place, spec, identity)  # a retry reattaches and waits
    assert done.status == JobStatus.COMPLETED
    assert place.get(f"{place.root}/processed/done.txt") == b"done\n"


def test_an_output_inside_another_outputs_folder_is_uploaded_by_both_as_on_sagemaker(place) -> None:
    outputs = [
        {"name": "out", "local_path": "/opt/ml/processing/output", "destination": f"{place.root}/processed"},
        {"name": "report", "local_path": "/opt/ml/processing/output/report", "destination": f"{place.root}/report"},
    ]
    script = "echo rows > /opt/ml/processing/output/rows.csv; echo ok > /opt/ml/processing/output/report/report.json"
    spec = place.processing(script, outputs=outputs)

    assert _run(place, spec).status == JobStatus.COMPLETED

    assert _text(place, f"{place.root}/report/report.json") == "ok\n"
    assert _text(place, f"{place.root}/processed/report/report.json") == "ok\n"
    assert _text(place, f"{place.root}/processed/rows.csv") == "rows\n"
