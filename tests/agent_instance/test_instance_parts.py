"""The instance agent's parts against moto and the metadata service emulator: IMDSv2, peers, CloudWatch Logs."""

from __future__ import annotations

import contextlib
import uuid

import boto3
import pytest
from botocore.config import Config
from support.imds import InstanceIdentity, MetadataService
from support.moto import free_port

from ml_lifecycle.agent.instance.cloudwatch import CloudWatchShipper
from ml_lifecycle.agent.instance.imds import MetadataClient, MetadataError
from ml_lifecycle.agent.instance.peers import PeersNotFound, job_instances, wait_for_peers
from ml_lifecycle.agent.instance.scale_in import scaled_in

REGION = "us-east-1"


@pytest.fixture
def metadata():
    """A metadata service for an instance with launch index 2."""
    service = MetadataService(InstanceIdentity("i-0abc", launch_index=2, private_ip="10.1.2.3", region="eu-west-1"))
    yield service
    service.stop()


def test_the_identity_comes_from_imdsv2_with_one_token(metadata):
    client = MetadataClient(metadata.endpoint)
    identity = client.identity()
    assert (identity.instance_id, identity.host, identity.private_ip, identity.region) == (
        "i-0abc",
        "algo-3",
        "10.1.2.3",
        "eu-west-1",
    )
    assert client.spot_action() is None
    metadata.interrupt_spot("stop")
    assert client.spot_action() == {"action": "stop", "time": "2026-11-25T00:02:00Z"}
    assert metadata.state.token_requests == 1 and metadata.state.unauthorised_requests == 0


def test_a_refused_token_is_renewed(metadata):
    client = MetadataClient(metadata.endpoint)
    client.identity()
    metadata._tokens.clear()  # the service forgot the token (it expired)
    assert client.require("latest/meta-data/instance-id") == "i-0abc"
    assert metadata.state.token_requests == 2


def test_no_metadata_service_says_where_the_agent_runs():
    with pytest.raises(MetadataError, match="runs only on an EC2 instance"):
        MetadataClient(f"http://127.0.0.1:{free_port()}/").identity()


def test_a_scale_in_is_seen_in_the_metadata_and_a_silent_service_says_no_without_raising(metadata):
    client = MetadataClient(metadata.endpoint)
    assert scaled_in(client) is False
    metadata.scale_in()
    assert scaled_in(client) is True
    # The endpoint host asks every poll: a metadata service that does not answer now must not end the agent.
    assert scaled_in(MetadataClient(f"http://127.0.0.1:{free_port()}/")) is False


def _launch(ec2, job: str, count: int) -> list[dict]:
    """Run instances tagged for a job.

    :param ec2: the moto EC2 client.
    :param job: the job name.
    :param count: how many.
    """
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tags = [{"Key": "ml-lifecycle.job", "Value": job}]
    return ec2.run_instances(
        ImageId=image_id,
        MinCount=count,
        MaxCount=count,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )["Instances"]


def test_peers_are_found_by_tag_and_launch_index(moto_server):
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name=REGION)
    launched = _launch(ec2, "peers-job", 3)
    _launch(ec2, "another-job", 1)
    peers = wait_for_peers(ec2, "peers-job", ["algo-1", "algo-2", "algo-3"], timeout_s=0)
    expected = {f"algo-{i['AmiLaunchIndex'] + 1}": i["PrivateIpAddress"] for i in launched}
    assert {host: peer.private_ip for host, peer in peers.items()} == expected


def test_missing_peers_fail_with_what_to_check(moto_server):
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name=REGION)
    (only,) = _launch(ec2, "short-job", 1)
    with pytest.raises(PeersNotFound, match=r"only 1 of 2 instances .* \(missing: algo-2\)"):
        wait_for_peers(ec2, "short-job", ["algo-1", "algo-2"], timeout_s=0)
    ec2.terminate_instances(InstanceIds=[only["InstanceId"]])
    assert job_instances(ec2, "short-job") == {}


def test_log_lines_reach_cloudwatch_in_order(moto_server):
    logs = boto3.client("logs", endpoint_url=moto_server, region_name=REGION)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName="/aws/ml-lifecycle/TrainingJobs")  # the shipper finds it existing
    stream = f"ship-{uuid.uuid4().hex[:8]}/algo-1"
    shipper = CloudWatchShipper(lambda: logs, "/aws/ml-lifecycle/TrainingJobs", stream)
    for index in range(2500):
        shipper(f"line {index}")
    shipper("")
    shipper.close()
    events = []
    kwargs = {"logGroupName": "/aws/ml-lifecycle/TrainingJobs", "logStreamName": stream}
    token = None
    while True:
        page = logs.get_log_events(startFromHead=True, **kwargs, **({"nextToken": token} if token else {}))
        if not page["events"]:
            break
        events.extend(page["events"])
        token = page["nextForwardToken"]
    assert [e["message"] for e in events] == [f"line {i}" for i in range(2500)] + [" "]


def test_cloudwatch_being_unreachable_never_fails_the_job():
    config = Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1)
    dead = boto3.client(
        "logs",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name=REGION,
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=config,
    )
    shipper = CloudWatchShipper(lambda: dead, "/aws/ml-lifecycle/TrainingJobs", "dead/algo-1")
    shipper("a line nobody will read")
    shipper.close()
    assert len(shipper._pending) == 1
