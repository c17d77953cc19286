"""Who may reach an EC2 endpoint, against moto: internal by default, TLS with an ACM certificate, IAM through an API
Gateway HTTP API, and refusals before anything is created.

moto checks the shapes of these calls and keeps what they create; it routes no traffic through load balancers or
APIs, does not check that a certificate matches a name, and does not enforce AWS_IAM on an API's routes (the signed
and unsigned requests are in test_signed_invoke.py).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from support import ec2_endpoints as ep
from support.helpers import task_context

from ml_lifecycle import DeployEndpointOperator
from ml_lifecycle.compute import backend_for
from ml_lifecycle.errors import SpecError


def _vpc_ranges(cloud) -> list[str]:
    """Return the default VPC's IPv4 ranges."""
    vpc = cloud.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    return [a["CidrBlock"] for a in vpc["CidrBlockAssociationSet"]]


def _ingress(cloud, group_id: str) -> list[dict]:
    """Return a security group's ingress rules."""
    return cloud.ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissions"]


def _listeners(cloud, load_balancer_arn: str) -> list[tuple[str, int]]:
    """Return a load balancer's listeners as (protocol, port)."""
    found = cloud.elbv2.describe_listeners(LoadBalancerArn=load_balancer_arn)["Listeners"]
    return [(listener["Protocol"], listener["Port"]) for listener in found]


def _issued_certificate(cloud) -> str:
    """Import a self-signed certificate into ACM (moto shows it ISSUED) and return its ARN."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{cloud.name}.internal.example")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"{cloud.name}.internal.example")]), False)
        .sign(key, hashes.SHA256())
    )
    return cloud.acm.import_certificate(
        Certificate=cert.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )["CertificateArn"]


def _nothing_made(cloud) -> None:
    """Assert the refused deploy made no security group, load balancer, instance, API or state."""
    tagged = [{"Name": "tag:ml-lifecycle.endpoint", "Values": [cloud.name]}]
    assert cloud.ec2.describe_security_groups(Filters=tagged)["SecurityGroups"] == []
    balancers = cloud.elbv2.describe_load_balancers()["LoadBalancers"]
    assert [
        b for b in balancers if ep.elb_tags(cloud, b["LoadBalancerArn"]).get("ml-lifecycle.endpoint") == cloud.name
    ] == []
    assert ep.instances(cloud, ("pending", "running", "stopping", "stopped")) == []
    listed = cloud.s3.list_objects_v2(Bucket=ep.BUCKET, Prefix=f"ml-lifecycle/endpoints/{cloud.name}/state.json")
    assert listed.get("KeyCount", 0) == 0
    ep.nothing_left(cloud)


def test_a_default_endpoint_is_internal_and_admits_only_its_vpc(cloud):
    result = ep.deploy_task(cloud).execute(task_context())

    state = ep.read_state(cloud)
    balancers = [
        b
        for b in cloud.elbv2.describe_load_balancers()["LoadBalancers"]
        if ep.elb_tags(cloud, b["LoadBalancerArn"]).get("ml-lifecycle.endpoint") == cloud.name
    ]
    assert [b["Scheme"] for b in balancers] == ["internal"]  # no internet-facing load balancer, so no such listener
    assert _listeners(cloud, state["load_balancer_arn"]) == [("HTTP", 80)]
    (rule,) = _ingress(cloud, state["alb_security_group_id"])
    assert (rule["FromPort"], rule["ToPort"], rule["UserIdGroupPairs"]) == (80, 80, [])
    assert sorted(r["CidrIp"] for r in rule["IpRanges"]) == sorted(_vpc_ranges(cloud))
    assert "0.0.0.0/0" not in [r["CidrIp"] for r in rule["IpRanges"]]
    assert result["url"] == f"http://{state['dns_name']}"
    assert state["access"] == {
        "scheme": "internal",
        "ingress_cidrs": _vpc_ranges(cloud),
        "certificate_arn": "",
        "auth": "none",
    }
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


@pytest.mark.parametrize(
    ("extra", "parameter", "mentions"),
    [
        ({"alb_scheme": "internet-facing"}, "alb_scheme", "cannot check IAM signatures"),
        ({"alb_scheme": "internet-facing", "certificate_arn": "issued"}, "alb_scheme", "auth='iam'"),
        ({"ingress_cidrs": ["0.0.0.0/0"]}, "ingress_cidrs", "outside the VPC's ranges"),
        ({"ingress_cidrs": ["172.31.0.0/24"], "auth": "iam"}, "ingress_cidrs", "VPC link"),
        ({"certificate_arn": "pending"}, "certificate_arn", "PENDING_VALIDATION, not ISSUED"),
        ({"certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/none"}, "certificate_arn", "ACM cannot"),
    ],
)
def test_a_way_in_without_tls_and_authentication_is_refused_before_anything_is_created(
    cloud, extra, parameter, mentions
):
    if extra.get("certificate_arn") == "issued":
        extra = {**extra, "certificate_arn": _issued_certificate(cloud)}
    if extra.get("certificate_arn") == "pending":
        pending = cloud.acm.request_certificate(DomainName="ep.example.com", ValidationMethod="DNS")
        extra = {**extra, "certificate_arn": pending["CertificateArn"]}
    with pytest.raises(SpecError) as info:
        ep.deploy_task(cloud, **extra).execute(task_context())
    assert info.value.parameter == parameter and mentions in str(info.value)
    _nothing_made(cloud)


def test_tls_with_an_issued_certificate_leaves_no_plain_http_listener(cloud):
    certificate = _issued_certificate(cloud)
    result = ep.deploy_task(cloud, certificate_arn=certificate).execute(task_context())

    state = ep.read_state(cloud)
    assert _listeners(cloud, state["load_balancer_arn"]) == [("HTTPS", 443)]
    listener = cloud.elbv2.describe_listeners(ListenerArns=[state["listener_arn"]])["Listeners"][0]
    assert listener["Certificates"] == [{"CertificateArn": certificate}]
    assert listener["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    (rule,) = _ingress(cloud, state["alb_security_group_id"])
    assert (rule["FromPort"], rule["ToPort"]) == (443, 443)
    assert result["url"] == f"https://{state['dns_name']}"
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


def test_iam_auth_puts_an_http_api_with_iam_routes_before_the_internal_load_balancer(cloud):
    result = ep.deploy_task(cloud, auth="iam").execute(task_context())

    state = ep.read_state(cloud)
    assert result["url"] == state["api_endpoint"] and result["url"].startswith("https://")
    balancer = cloud.elbv2.describe_load_balancers(LoadBalancerArns=[state["load_balancer_arn"]])["LoadBalancers"][0]
    assert balancer["Scheme"] == "internal"
    routes = cloud.apigatewayv2.get_routes(ApiId=state["api_id"])["Items"]
    assert {r["RouteKey"]: r["AuthorizationType"] for r in routes} == {
        "POST /invocations": "AWS_IAM",
        "GET /ping": "AWS_IAM",
    }
    integration_id = {r["Target"] for r in routes}.pop().removeprefix("integrations/")
    integration = cloud.apigatewayv2.get_integration(ApiId=state["api_id"], IntegrationId=integration_id)
    assert (integration["ConnectionType"], integration["ConnectionId"]) == ("VPC_LINK", state["vpc_link_id"])
    assert (integration["IntegrationType"], integration["IntegrationUri"]) == ("HTTP_PROXY", state["listener_arn"])
    link = cloud.apigatewayv2.get_vpc_link(VpcLinkId=state["vpc_link_id"])
    assert link["SecurityGroupIds"] == [state["link_security_group_id"]]
    (rule,) = _ingress(cloud, state["alb_security_group_id"])
    assert rule["IpRanges"] == [] and [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [
        state["link_security_group_id"]
    ]
    view = backend_for("ec2", "aws_default").endpoints().describe(cloud.name)
    assert view is not None and (view.url, view.details["auth"]) == (state["api_endpoint"], "iam")

    updated = ep.deploy_task(cloud, "v2", auth="iam").execute(task_context())  # the same door for the new revision
    assert updated["url"] == result["url"] and ep.read_state(cloud)["api_id"] == state["api_id"]
    assert [a["ApiId"] for a in cloud.apigatewayv2.get_apis()["Items"] if a["Name"] == f"mlc-ep-{cloud.name}"] == [
        state["api_id"]
    ]

    removed = ep.delete_endpoint(cloud)
    assert removed["gateways"] == 2 and removed["security_groups"] == 3
    ep.nothing_left(cloud)


def test_iam_auth_over_an_https_listener_verifies_the_certificates_name(cloud):
    certificate = _issued_certificate(cloud)
    ep.deploy_task(cloud, auth="iam", certificate_arn=certificate).execute(task_context())

    state = ep.read_state(cloud)
    assert _listeners(cloud, state["load_balancer_arn"]) == [("HTTPS", 443)]
    (route, _) = cloud.apigatewayv2.get_routes(ApiId=state["api_id"])["Items"]
    integration = cloud.apigatewayv2.get_integration(
        ApiId=state["api_id"], IntegrationId=route["Target"].removeprefix("integrations/")
    )
    assert integration["TlsConfig"] == {"ServerNameToVerify": f"{cloud.name}.internal.example"}
    (rule,) = _ingress(cloud, state["alb_security_group_id"])
    assert (rule["FromPort"], [p["GroupId"] for p in rule["UserIdGroupPairs"]]) == (
        443,
        [state["link_security_group_id"]],
    )
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


def test_an_endpoint_made_with_the_old_open_default_refuses_the_new_one_until_asked_to_keep_it(cloud):
    ep.deploy_task(cloud).execute(task_context())
    key = f"ml-lifecycle/endpoints/{cloud.name}/state.json"
    old = ep.read_state(cloud)
    del old["access"]  # as written before access was recorded: internet-facing, HTTP 80 from 0.0.0.0/0
    cloud.s3.put_object(Bucket=ep.BUCKET, Key=key, Body=json.dumps(old).encode())

    with pytest.raises(SpecError) as info:
        ep.deploy_task(cloud, "v2").execute(task_context())
    message = str(info.value)
    assert "is internet-facing, HTTP on 80 from 0.0.0.0/0, without authentication" in message
    assert "pass alb_scheme='internet-facing', auth='none', ingress_cidrs=['0.0.0.0/0']" in message
    assert f"ml-lifecycle delete-endpoint --compute ec2 {cloud.name}" in message
    assert ep.read_state(cloud)["live"] == old["live"]
    assert ep.instances(cloud) == sorted(old["live"]["instance_ids"])

    kept = ep.deploy_task(cloud, "v2", alb_scheme="internet-facing", ingress_cidrs=["0.0.0.0/0"])
    assert kept.execute(task_context())["revision"] != old["live"]["revision"]
    assert ep.read_state(cloud)["access"] is None  # the update kept the old access, as it was recorded
    ep.delete_endpoint(cloud)
    ep.nothing_left(cloud)


def test_bad_access_options_fail_when_the_dag_is_parsed():
    with pytest.raises(SpecError) as info:
        DeployEndpointOperator(
            task_id="d",
            endpoint_name="ep",
            image_uri=ep.IMAGE,
            model_uri="s3://b/m.tar.gz",
            compute="ec2",
            auth="sigv4",
            certificate_arn="cert",
        )
    assert {e.parameter for e in info.value.errors} == {"auth", "certificate_arn"}
