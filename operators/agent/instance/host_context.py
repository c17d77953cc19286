"""Where every host agent on an EC2 instance starts: who this instance is, its stores and the job document."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ml_lifecycle.agent.instance.imds import InstanceIdentity, MetadataClient, MetadataError
from ml_lifecycle.aws_clients import client_factory
from ml_lifecycle.compute.records import StoreFor
from ml_lifecycle.core import contract
from ml_lifecycle.core.ec2.spec_documents import JobDocument
from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.stores import store_for as store_for_uri
from ml_lifecycle.stores.base import ArtifactStore


@dataclass(frozen=True)
class HostContext:
    """This instance, the stores it reaches and the job it runs a part of.

    :param imds: the metadata client.
    :param identity: this instance.
    :param store_for: returns the store for a URI (S3 in the instance's region).
    :param document: the job document.
    """

    imds: MetadataClient
    identity: InstanceIdentity
    store_for: StoreFor
    document: JobDocument

    def hosts(self, noun: str) -> list[str]:
        """Return the job's hosts, algo-1..N; raise MetadataError when this instance is none of them.

        :param noun: what the job is called in the error (``job``, ``transform``).
        """
        hosts = contract.host_names(self.document.instance_count)
        if self.identity.host not in hosts:
            raise MetadataError(
                f"This instance is {self.identity.host} (ami-launch-index {self.identity.launch_index}) but {noun} "
                f"{self.document.job_name} has hosts {', '.join(hosts)}; launch its instances in one run_instances call"
            )
        return hosts


def open_host(document_uri: str, imds: MetadataClient | None = None) -> HostContext:
    """Learn this instance's identity from the metadata service, then read the job document through S3.

    :param document_uri: the job document (``<staging>/job.json``).
    :param imds: the metadata client; None uses the instance's (or AWS_EC2_METADATA_SERVICE_ENDPOINT's).
    """
    imds = imds or MetadataClient()
    identity = imds.identity()
    s3 = client_factory("s3", None, identity.region)

    def store_for(uri: ArtifactUri) -> ArtifactStore:
        return store_for_uri(uri, s3_client_factory=s3)

    return HostContext(imds, identity, store_for, read_document(store_for, document_uri))


def read_document(store_for: StoreFor, document_uri: str) -> JobDocument:
    """Read and check the job document.

    :param store_for: returns the store for a URI.
    :param document_uri: the document's URI.
    """
    uri = parse_uri(document_uri, "job document URI")
    return JobDocument.from_dict(json.loads(store_for(uri).read_bytes(uri)))
