"""An endpoint's IAM-authenticated door: an API Gateway HTTP API whose routes require SigV4 (AWS_IAM), reaching the
internal load balancer's listener through a VPC link. API Gateway serves it over TLS on its execute-api address."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from ml_lifecycle.compute.ec2.aws_refusals import refusals_of
from ml_lifecycle.compute.ec2.fleet import ClientFactory

# SageMaker's container paths; every other path answers 404 from API Gateway without reaching the model.
ROUTES = ("POST /invocations", "GET /ping")
STAGE = "$default"


GATEWAY_RETRYABLE = frozenset({"TooManyRequestsException", "ServiceUnavailableException"})


def gateway_errors(what: str) -> AbstractContextManager[None]:
    """Translate a botocore ClientError raised inside the block into a ComputeError naming the action.

    :param what: the action, for the message (``creating the HTTP API``).
    """
    return refusals_of("API Gateway", what, GATEWAY_RETRYABLE)


def gateway_name(endpoint_name: str) -> str:
    """Return the name of an endpoint's HTTP API and VPC link.

    :param endpoint_name: the endpoint's name.
    """
    return f"mlc-ep-{endpoint_name}"


@dataclass(frozen=True)
class Gateway:
    """What an endpoint's IAM door is made of.

    :param api_id: the HTTP API.
    :param api_endpoint: its ``https://<id>.execute-api.<region>.amazonaws.com`` address.
    :param vpc_link_id: the VPC link to the load balancer.
    """

    api_id: str
    api_endpoint: str
    vpc_link_id: str


class IamGateway:
    """Creates and removes endpoints' HTTP APIs with IAM authorization.

    :param apigateway: builds the ``apigatewayv2`` client.
    """

    def __init__(self, apigateway: ClientFactory) -> None:
        self.apigateway = apigateway

    def create(
        self,
        endpoint_name: str,
        subnet_ids: Sequence[str],
        link_group_id: str,
        listener_arn: str,
        server_name: str,
        tags: Mapping[str, str],
    ) -> Gateway:
        """Create the VPC link, the HTTP API, its proxy integration to the listener and its IAM-only routes.

        :param endpoint_name: the endpoint's name.
        :param subnet_ids: the load balancer's subnets (the VPC link's network interfaces go there).
        :param link_group_id: the VPC link's security group (the load balancer admits it).
        :param listener_arn: the load balancer's listener.
        :param server_name: the name to verify on an HTTPS listener's certificate, or "" for an HTTP listener.
        :param tags: ownership tags.
        """
        client = self.apigateway()
        name = gateway_name(endpoint_name)
        with gateway_errors(f"creating the VPC link {name}"):
            link = client.create_vpc_link(
                Name=name, SubnetIds=list(subnet_ids), SecurityGroupIds=[link_group_id], Tags=dict(tags)
            )
        with gateway_errors(f"creating the HTTP API {name}"):
            api = client.create_api(Name=name, ProtocolType="HTTP", Tags=dict(tags))
            tls = {"TlsConfig": {"ServerNameToVerify": server_name}} if server_name else {}
            integration = client.create_integration(
                ApiId=api["ApiId"],
                IntegrationType="HTTP_PROXY",
                IntegrationMethod="ANY",
                IntegrationUri=listener_arn,
                ConnectionType="VPC_LINK",
                ConnectionId=link["VpcLinkId"],
                PayloadFormatVersion="1.0",
                **tls,
            )
            for route in ROUTES:
                client.create_route(
                    ApiId=api["ApiId"],
                    RouteKey=route,
                    AuthorizationType="AWS_IAM",
                    Target=f"integrations/{integration['IntegrationId']}",
                )
            client.create_stage(ApiId=api["ApiId"], StageName=STAGE, AutoDeploy=True, Tags=dict(tags))
        return Gateway(str(api["ApiId"]), str(api["ApiEndpoint"]), str(link["VpcLinkId"]))

    def remove(self, endpoint_name: str, api_id: str = "", vpc_link_id: str = "") -> int:
        """Delete an endpoint's HTTP API and VPC link (by id and by name); return how many were deleted.

        :param endpoint_name: the endpoint's name.
        :param api_id: the recorded API, or "".
        :param vpc_link_id: the recorded VPC link, or "".
        """
        client = self.apigateway()
        name = gateway_name(endpoint_name)
        with gateway_errors("listing HTTP APIs and VPC links"):
            apis = {api_id} | {str(a["ApiId"]) for a in client.get_apis().get("Items", []) if a.get("Name") == name}
            links = {vpc_link_id} | {
                str(v["VpcLinkId"]) for v in client.get_vpc_links().get("Items", []) if v.get("Name") == name
            }
        with gateway_errors(f"deleting the HTTP API and VPC link {name}"):
            deleted = sum(_deleted(lambda i: client.delete_api(ApiId=i), client, found) for found in apis - {""})
            deleted += sum(_deleted(lambda i: client.delete_vpc_link(VpcLinkId=i), client, f) for f in links - {""})
        return deleted


def _deleted(delete: Callable[[str], object], client: Any, resource_id: str) -> bool:
    """Delete one API or VPC link; return False when it was gone already.

    :param delete: the call that deletes it by id.
    :param client: the apigatewayv2 client (its NotFoundException).
    :param resource_id: the id.
    """
    try:
        delete(resource_id)
    except client.exceptions.NotFoundException:
        return False
    return True
