"""An EC2 endpoint's data capture counters: what each host of its live revision reported, added up."""

from __future__ import annotations

import json

from ml_lifecycle.compute.ec2.endpoint_revisions import revision_staging
from ml_lifecycle.core.ec2.endpoint_hosts import HOST_CAPTURE
from ml_lifecycle.core.uris import ArtifactUri
from ml_lifecycle.stores import StoreFor


def capture_details(store_for: StoreFor, prefix: ArtifactUri, revision: str) -> dict[str, str]:
    """Return ``capture_records``, ``capture_lost`` and ``capture_last_error`` of a revision's hosts ({} when none
    captures): the sums of what each host last reported (every few seconds, and when it stops).

    :param store_for: returns the store for a URI.
    :param prefix: the endpoint's state prefix.
    :param revision: the live revision.
    """
    hosts = revision_staging(prefix, revision).join("hosts")
    reports = [o for o in store_for(hosts).list_objects(hosts) if o.relative_key.endswith(f"/{HOST_CAPTURE}")]
    if not reports:
        return {}
    records, lost, last_error = 0, 0, ""
    for report in reports:
        uri = hosts.join(report.relative_key)
        counters = json.loads(store_for(uri).read_bytes(uri))
        records += int(counters.get("capture_records", 0))
        lost += int(counters.get("capture_lost", 0))
        last_error = str(counters.get("capture_last_error") or last_error)
    return {"capture_records": str(records), "capture_lost": str(lost), "capture_last_error": last_error}
