"""The EC2 reaper and the CloudWatch log follower, against moto in server mode."""

from __future__ import annotations

import contextlib
import json
import time
import uuid

from ml_lifecycle.compute.ec2.cloudwatch_follow import TRAINING_LOG_GROUP, CloudWatchFollower
from ml_lifecycle.compute.ec2.reaper import reap_ec2
from ml_lifecycle.compute.ec2.security_group import create_job_security_group
from ml_lifecycle.core.ec2.launch import instance_tags, run_instances_request
from ml_lifecycle.core.ec2.settings import Ec2Settings


def _launch(aws, job: str, run_id: str, deadline_s: int, kind: str = "training") -> str:
    """Launch one tagged instance (and the job's security group); return the instance id.

    :param aws: the moto clients and fleet.
    :param job: the job name.
    :param run_id: the DAG run id in its tags.
    :param deadline_s: its deadline tag.
    :param kind: its kind tag.
    """
    owner = {"ml-lifecycle.dag-id": "dag", "ml-lifecycle.task-id": "train", "ml-lifecycle.run-id": run_id}
    tags = instance_tags(kind, job, owner, deadline_s, {})
    group = create_job_security_group(aws.fleet.ec2, job, aws.fleet.vpc_of(Ec2Settings()), tags)
    settings = Ec2Settings()
    request = run_instances_request(
        settings,
        instance_type="m5.large",
        count=1,
        user_data="#!/bin/bash\n",
        tags=tags,
        ami_id=aws.fleet.resolve_ami(settings, "m5.large"),
        security_group_ids=[group],
        use_spot=False,
        client_token=f"{job}-1",
    )
    return str(aws.fleet.launch(request)[0]["InstanceId"])


def test_the_reaper_ends_jobs_past_their_deadline_or_whose_run_ended_and_keeps_the_rest(aws):
    now = int(time.time())
    tag = uuid.uuid4().hex[:6]
    late, ended, live = f"late-{tag}", f"ended-{tag}", f"live-{tag}"
    ids = {
        late: _launch(aws, late, "run-live", now - 10),
        ended: _launch(aws, ended, "run-ended", now + 3600),
        live: _launch(aws, live, "run-live", now + 3600),
    }
    states = {"run-live": "running", "run-ended": "success"}

    def run_state(dag_id: str, run_id: str) -> str | None:
        return states.get(run_id)

    dry = reap_ec2(aws.fleet, run_state, dry_run=True, match_tags={"ml-lifecycle.dag-id": "dag"})
    assert {o.job for o in dry} >= {late, ended} and live not in {o.job for o in dry}
    assert len(aws.fleet.instances(late)) == 1, "a dry run ends nothing"

    reaped = {o.job: o for o in reap_ec2(aws.fleet, run_state, match_tags={"ml-lifecycle.dag-id": "dag"})}
    assert reaped[late].reason.startswith("past its deadline")
    assert reaped[ended].reason == "its DAG run ended (success)"
    assert reaped[late].instances == [ids[late]] and len(reaped[late].security_groups) == 1
    assert live not in reaped
    assert aws.fleet.instances(late) == [] and aws.fleet.instances(ended) == []
    assert [i["InstanceId"] for i in aws.fleet.instances(live)] == [ids[live]]
    remaining = aws.ec2.describe_security_groups(Filters=[{"Name": "tag:ml-lifecycle.job", "Values": [late, ended]}])
    assert remaining["SecurityGroups"] == []


def test_the_log_follower_shows_each_line_once_with_its_host(aws):
    job = f"job-{uuid.uuid4().hex[:6]}"
    with contextlib.suppress(aws.logs.exceptions.ResourceAlreadyExistsException):
        aws.logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
    follower = CloudWatchFollower(lambda: aws.logs, job)
    seen: list[str] = []
    assert follower.poll(seen.append) == 0, "no stream yet is not an error"
    for host in ("algo-1", "algo-2"):
        aws.logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=f"{job}/{host}")
    stamp = int(time.time() * 1000)
    aws.logs.put_log_events(
        logGroupName=TRAINING_LOG_GROUP,
        logStreamName=f"{job}/algo-1",
        logEvents=[{"timestamp": stamp, "message": "one"}, {"timestamp": stamp + 1, "message": "two"}],
    )
    aws.logs.put_log_events(
        logGroupName=TRAINING_LOG_GROUP,
        logStreamName=f"{job}/algo-2",
        logEvents=[{"timestamp": stamp, "message": "[algo-2] prefixed already"}],
    )
    follower.poll(seen.append)
    assert seen == ["[algo-1] one", "[algo-1] two", "[algo-2] prefixed already"]
    aws.logs.put_log_events(
        logGroupName=TRAINING_LOG_GROUP,
        logStreamName=f"{job}/algo-1",
        logEvents=[{"timestamp": stamp + 2, "message": "three"}],
    )
    follower.poll(seen.append)
    assert seen[3:] == ["[algo-1] three"]


def test_teardown_ends_the_runs_instances_and_groups_but_keeps_endpoints_and_other_runs(aws, monkeypatch, moto_server):
    from support.helpers import task_context

    from ml_lifecycle.teardown import TeardownOperator

    connection = {"conn_type": "aws", "extra": {"endpoint_url": moto_server, "region_name": "us-east-1"}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    tag = uuid.uuid4().hex[:6]
    later = int(time.time()) + 3600
    ids = {
        "train": _launch(aws, f"train-{tag}", f"run-{tag}", later),
        "serve": _launch(aws, f"serve-{tag}", f"run-{tag}", later, kind="endpoint"),
        "other": _launch(aws, f"other-{tag}", f"other-{tag}", later),
    }

    result = TeardownOperator(task_id="teardown", compute=["local", "ec2"]).execute(
        task_context(dag_id="dag", run_id=f"run-{tag}")
    )

    assert ids["train"] in result["removed"]
    assert aws.fleet.instances(f"train-{tag}") == []
    assert [i["InstanceId"] for i in aws.fleet.instances(f"serve-{tag}")] == [ids["serve"]]
    assert [i["InstanceId"] for i in aws.fleet.instances(f"other-{tag}")] == [ids["other"]]
    groups = aws.ec2.describe_security_groups(Filters=[{"Name": "tag:ml-lifecycle.job", "Values": [f"train-{tag}"]}])
    assert groups["SecurityGroups"] == []
