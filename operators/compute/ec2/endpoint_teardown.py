"""Finding and removing what an EC2 endpoint is made of, by its state and by its tags."""

from __future__ import annotations

from ml_lifecycle.compute.ec2.endpoint_network import delete_groups, tagged_groups
from ml_lifecycle.compute.ec2.endpoint_state import EndpointState
from ml_lifecycle.compute.ec2.fleet import Ec2Fleet
from ml_lifecycle.compute.ec2.iam_gateway import IamGateway
from ml_lifecycle.compute.ec2.load_balancer import LoadBalancer
from ml_lifecycle.compute.ec2.revision_groups import RevisionGroups
from ml_lifecycle.core import labels
from ml_lifecycle.core.uris import ArtifactUri, parse_uri

STATE_TAG = "ml-lifecycle.state-uri"


def remove_endpoint_resources(
    fleet: Ec2Fleet,
    balancer: LoadBalancer,
    gateway: IamGateway,
    groups: RevisionGroups,
    state: EndpointState | None,
    endpoint_name: str = "",
) -> dict[str, int]:
    """Delete an endpoint's IAM gateway, load balancer, Auto Scaling groups, instances, target groups and security
    groups (by state and by tags).

    :param fleet: launches, finds and terminates instances.
    :param balancer: the ELBv2 calls.
    :param gateway: the API Gateway calls.
    :param groups: the Auto Scaling calls.
    :param state: the endpoint's state, or None when it is lost (tags alone find the resources).
    :param endpoint_name: the endpoint's name (default the state's).
    """
    name = endpoint_name or (state.endpoint_name if state else "")
    tag = {labels.ENDPOINT: name, labels.KIND: "endpoint"}
    gateways = gateway.remove(name, state.api_id if state else "", state.vpc_link_id if state else "")
    balancers = set(balancer.tagged("load-balancer", tag))
    if state and state.load_balancer_arn:
        balancers.add(state.load_balancer_arn)
    for arn in sorted(balancers):
        balancer.delete_load_balancer(arn)
    revisions = [r for r in ((state.live, state.pending) if state else ()) if r is not None]
    scaling = sorted(set(groups.tagged(tag)) | {r.group_name for r in revisions if r.group_name})
    instances = [i for group in scaling for i in groups.delete(group)]
    instances += [str(i["InstanceId"]) for i in fleet.find({labels.ENDPOINT: name})]
    instances += [i for r in revisions for i in r.instance_ids]
    instances = sorted(set(instances))
    if instances:
        fleet.terminate(instances)
        fleet.wait_terminated(instances)
    target_groups = set(balancer.tagged("target-group", tag))
    target_groups |= {r.target_group_arn for r in revisions if r.target_group_arn}
    for arn in sorted(target_groups):
        balancer.delete_target_group(arn)
    security = tagged_groups(fleet.ec2, tag)
    if state:
        recorded = (state.instance_security_group_id, state.alb_security_group_id, state.link_security_group_id)
        known = [g for g in recorded if g]
        security = [*known, *(g for g in security if g not in known)]
    return {
        "gateways": gateways,
        "load_balancers": len(balancers),
        "auto_scaling_groups": len(scaling),
        "instances": len(instances),
        "target_groups": len(target_groups),
        "security_groups": delete_groups(fleet.ec2, security),
    }


def locate_state_prefix(fleet: Ec2Fleet, endpoint_name: str) -> ArtifactUri | None:
    """Find an endpoint's state prefix from the tag on its security groups, or None.

    :param fleet: the EC2 fleet (its client reads the groups).
    :param endpoint_name: the endpoint's name.
    """
    filters = [
        {"Name": f"tag:{labels.ENDPOINT}", "Values": [endpoint_name]},
        {"Name": f"tag:{labels.KIND}", "Values": ["endpoint"]},
    ]
    for group in fleet.ec2().describe_security_groups(Filters=filters)["SecurityGroups"]:
        found = {t["Key"]: t["Value"] for t in group.get("Tags", [])}.get(STATE_TAG)
        if found:
            return parse_uri(found, "state_uri")
    return None
