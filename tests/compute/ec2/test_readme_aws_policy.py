"""The README's AWS policy for Airflow's role names every AWS operation the EC2 backend calls, and nothing of those
services that it does not call: a call added without its permission fails here until the README says so.

How the calls are found, honestly and with its limits: the EC2 backend's sources (operators/compute/ec2) are parsed,
and every attribute call or string (a paginator's or waiter's name) that is the Python name of an operation of a
service the backend makes a client of (``client("elbv2")`` and friends, found in the same sources) counts as a call of
that operation. A name several of those services share is resolved by SHARED below, and a new shared name fails until
it is listed there. This reads code, not behaviour: a call whose method name is built at run time from pieces
would be missed (there is none today: paginator and waiter names are whole string literals, which the scan reads).
API Gateway's HTTP API actions are its HTTP methods (``apigateway:POST``), taken from botocore's model. Permissions
AWS checks besides the called operation are listed in IMPLIED with why. The other statements (S3 by the stores, ECR
by the registries, STS and secrets) are not checked here. moto checks no IAM policy at all: this is the only check of
the policy here.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import botocore.session
from botocore import xform_name
from botocore.exceptions import DataNotFoundError

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
SOURCES = ROOT / "operators" / "compute" / "ec2"
# boto3 service name -> its IAM prefix (apigatewayv2's actions are HTTP methods, mapped below).
IAM_PREFIX = {
    "ec2": "ec2",
    "ssm": "ssm",
    "iam": "iam",
    "logs": "logs",
    "elbv2": "elasticloadbalancing",
    "autoscaling": "autoscaling",
    "cloudwatch": "cloudwatch",
    "acm": "acm",
    "apigatewayv2": "apigateway",
    "s3": "s3",
}
# Operation names several of the backend's services share: which one the code calls, and where.
SHARED = {
    "describe_tags": "elbv2",  # load_balancer.py: the load balancers' and target groups' tags
    "describe_load_balancers": "elbv2",  # load_balancer.py, endpoint_activity.py (no classic load balancer is used)
    "create_route": "apigatewayv2",  # iam_gateway.py: the HTTP API's routes (no VPC route table is changed)
}
# Actions AWS checks on the caller besides the operation called, with why (the scan cannot see these).
IMPLIED = {
    # PutScalingPolicy with target tracking makes, and DeleteAutoScalingGroup removes, CloudWatch alarms as the caller.
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:DeleteAlarms",
    # Tags given at creation (load balancers, target groups, Auto Scaling groups) are authorized as tagging calls.
    "elasticloadbalancing:AddTags",
    "autoscaling:CreateOrUpdateTags",
    # An Auto Scaling group launches from its launch template with the caller's rights to do so.
    "ec2:RunInstances",
    "ec2:CreateTags",
    # The first Auto Scaling group, load balancer and VPC link of an account make their service-linked roles.
    "iam:CreateServiceLinkedRole",
    # An API Gateway VPC link's network interfaces are made through the caller's rights.
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
}
# The prefixes only the EC2 backend uses: the README may grant nothing of these that it does not call or imply.
EC2_ONLY_PREFIXES = {"elasticloadbalancing", "autoscaling", "cloudwatch", "acm", "apigateway"}


def _services_used() -> set[str]:
    """Return the boto3 services the EC2 backend makes clients of (``client("x")`` in its sources)."""
    found = set()
    for path in SOURCES.glob("*.py"):
        found |= set(re.findall(r"client\(\"([a-z0-9]+)\"\)", path.read_text()))
    return found


def _names_in_sources() -> set[str]:
    """Return every attribute called and every string literal in the EC2 backend's sources."""
    names: set[str] = set()
    for path in SOURCES.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
    return names


def _action(session: botocore.session.Session, service: str, operation: str) -> str:
    """Return the IAM action of one operation.

    :param session: a botocore session (its service models).
    :param service: the boto3 service name.
    :param operation: the operation's API name (``DescribeLoadBalancers``).
    """
    if service == "apigatewayv2":
        model = session.get_service_model(service).operation_model(operation)
        return f"apigateway:{model.http['method']}"
    return f"{IAM_PREFIX[service]}:{operation}"


def _actions_called() -> dict[str, set[str]]:
    """Return IAM action -> the Python names in the sources that need it."""
    session = botocore.session.get_session()
    services = _services_used()
    owners: dict[str, list[tuple[str, str]]] = {}  # python name -> [(service, operation)]
    for service in services:
        model = session.get_service_model(service)
        for operation in model.operation_names:
            owners.setdefault(xform_name(operation), []).append((service, operation))
        waiters = session.get_waiter_model(service).waiter_names if _has_waiters(session, service) else []
        for waiter in waiters:
            operation = session.get_waiter_model(service).get_waiter(waiter).operation
            owners.setdefault(xform_name(waiter), []).append((service, operation))
    needed: dict[str, set[str]] = {}
    for name in _names_in_sources() & set(owners):
        candidates = owners[name]
        if len({service for service, _ in candidates}) > 1:
            assert name in SHARED, f"{name} is an operation of {candidates}: say in SHARED which one the code calls"
            candidates = [(s, o) for s, o in candidates if s == SHARED[name]]
        for service, operation in candidates:
            needed.setdefault(_action(session, service, operation), set()).add(name)
    return needed


def _has_waiters(session: botocore.session.Session, service: str) -> bool:
    """Say whether botocore knows waiters of a service.

    :param session: a botocore session.
    :param service: the boto3 service name.
    """
    try:
        session.get_waiter_model(service)
    except DataNotFoundError:  # a service without waiters
        return False
    return True


def _readme_policy_actions() -> set[str]:
    """Return the actions the README's policy for Airflow's role grants (the first JSON block of "AWS setup")."""
    text = README.read_text()
    section = text[text.index("## AWS setup") :]
    block = section[section.index("```json") + len("```json") : section.index("```", section.index("```json") + 7)]
    granted: set[str] = set()
    for statement in json.loads(block)["Statement"]:
        actions = statement["Action"]
        granted |= {actions} if isinstance(actions, str) else set(actions)
    return granted


def test_the_readme_policy_grants_every_operation_the_ec2_backend_calls() -> None:
    granted = _readme_policy_actions()
    needed = _actions_called()
    missing = {action: sorted(names) for action, names in needed.items() if action not in granted}
    assert missing == {}, f"the README's AWS policy lacks these actions (action: the calls needing it): {missing}"
    assert granted >= IMPLIED, f"the README's AWS policy lacks {sorted(IMPLIED - granted)}"


def test_the_readme_policy_grants_nothing_of_the_ec2_only_services_that_is_not_called() -> None:
    granted = {a for a in _readme_policy_actions() if a.split(":")[0] in EC2_ONLY_PREFIXES}
    unused = granted - set(_actions_called()) - IMPLIED
    assert unused == set(), f"the README's AWS policy grants {sorted(unused)}, which the EC2 backend never calls"


def test_the_scan_finds_the_calls_it_is_meant_to_find() -> None:
    # A check of the scan itself: calls known to be in the sources (a method, a paginator, a waiter, an HTTP API).
    needed = _actions_called()
    for action in (
        "elasticloadbalancing:CreateLoadBalancer",
        "ec2:DescribeInstances",
        "elasticloadbalancing:DescribeLoadBalancers",
        "autoscaling:PutScalingPolicy",
        "apigateway:POST",
        "acm:DescribeCertificate",
    ):
        assert action in needed, f"the scan no longer finds {action}: {sorted(needed)}"
