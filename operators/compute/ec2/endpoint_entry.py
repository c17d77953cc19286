"""How callers enter an EC2 endpoint: admit the access a deploy asks for (before anything is made), then open the
load balancer's listener and, with auth="iam", the API Gateway in front of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ml_lifecycle.compute.ec2.endpoint_network import vpc_ranges
from ml_lifecycle.compute.ec2.endpoint_state import EndpointState
from ml_lifecycle.compute.ec2.fleet import ClientFactory
from ml_lifecycle.compute.ec2.iam_gateway import IamGateway
from ml_lifecycle.compute.ec2.load_balancer import LoadBalancer
from ml_lifecycle.core.ec2.endpoint_access import AUTH_IAM, EndpointAccess, change_refusal, new_endpoint_refusal
from ml_lifecycle.errors import ComputeError, SpecError


class EndpointEntry:
    """Admits an endpoint's access and opens its listener and IAM gateway.

    :param ec2: builds the EC2 client (the VPC's ranges).
    :param acm: builds the ACM client (the certificate's status and name).
    :param balancer: the ELBv2 calls.
    :param gateway: the API Gateway calls.
    """

    def __init__(self, ec2: ClientFactory, acm: ClientFactory, balancer: LoadBalancer, gateway: IamGateway) -> None:
        self.ec2 = ec2
        self.acm = acm
        self.balancer = balancer
        self.gateway = gateway

    def admit(
        self, endpoint_name: str, asked: EndpointAccess, state: EndpointState | None, vpc_id: str
    ) -> EndpointAccess:
        """Return the access resolved against the VPC, or raise SpecError when this deploy may not have it.

        A new endpoint may not be reachable from outside its VPC without IAM; an existing one keeps its access.

        :param endpoint_name: the endpoint's name.
        :param asked: the access the operator asks for.
        :param state: the endpoint's state, or None for a new endpoint.
        :param vpc_id: the VPC of the endpoint.
        """
        ranges = vpc_ranges(self.ec2, vpc_id)
        resolved = asked.resolved(ranges)
        if state is not None and state.live is not None:
            refusal = change_refusal(endpoint_name, state.reached_by, resolved)
        else:
            refusal = new_endpoint_refusal(resolved, ranges)
            if refusal is None and resolved.certificate_arn:
                self.certificate_name(resolved.certificate_arn)
        if refusal is not None:
            raise refusal
        return resolved

    def certificate_name(self, certificate_arn: str) -> str:
        """Return an issued ACM certificate's domain name; raise SpecError when it is missing or not issued.

        :param certificate_arn: the certificate.
        """
        from botocore.exceptions import ClientError

        try:
            found = self.acm().describe_certificate(CertificateArn=certificate_arn)["Certificate"]
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            raise SpecError(
                "certificate_arn",
                f"ACM cannot show {certificate_arn} ({code})",
                "Give a certificate of this account and the endpoint's region",
            ) from err
        if found.get("Status") != "ISSUED":
            raise SpecError(
                "certificate_arn",
                f"{certificate_arn} is {found.get('Status')}, not ISSUED",
                "Finish its validation in ACM, or give an issued certificate",
            )
        return str(found.get("DomainName", ""))

    def open(
        self, state: EndpointState, weights: Mapping[str, int], subnets: Sequence[str], tags: dict[str, str]
    ) -> None:
        """Create the listener and, with auth="iam", the API Gateway in front; record them in the state.

        :param state: the endpoint's state (its load balancer, access and VPC link's group are recorded).
        :param weights: target group ARN -> weight for the listener.
        :param subnets: the load balancer's subnets.
        :param tags: ownership tags.
        """
        access = state.reached_by
        state.listener_arn = self.balancer.create_listener(
            state.load_balancer_arn,
            weights,
            tags,
            protocol=access.listener_protocol,
            port=access.listener_port,
            certificate_arn=access.certificate_arn,
        )
        if access.auth != AUTH_IAM:
            return
        if not state.link_security_group_id:
            raise ComputeError(f"Endpoint {state.endpoint_name} has no VPC link security group recorded")
        server_name = self.certificate_name(access.certificate_arn) if access.certificate_arn else ""
        made = self.gateway.create(
            state.endpoint_name, subnets, state.link_security_group_id, state.listener_arn, server_name, tags
        )
        state.api_id, state.api_endpoint, state.vpc_link_id = made.api_id, made.api_endpoint, made.vpc_link_id
