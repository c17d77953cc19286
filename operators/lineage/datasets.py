"""Our jobs' inputs and outputs as OpenLineage datasets: ``s3://bucket/key`` is namespace ``s3://bucket`` and name
``key`` (as the Amazon provider reports SageMaker jobs); ``file:///path`` is namespace ``file`` and name ``/path``
(OpenLineage's naming of local files)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ml_lifecycle.core.uris import parse_uri


def dataset_name(uri: str) -> tuple[str, str]:
    """Return (namespace, name) of a location, in OpenLineage's naming.

    :param uri: an ``s3://`` or ``file://`` URI.
    """
    parsed = parse_uri(uri)
    if parsed.scheme == "s3":
        return f"s3://{parsed.bucket}", parsed.path
    return "file", parsed.path


def operator_lineage(inputs: Sequence[str], outputs: Sequence[str]) -> Any:
    """Return the OperatorLineage of a run (the OpenLineage provider's type; imported only when it asks).

    :param inputs: the URIs the run read.
    :param outputs: the URIs it wrote.
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    def datasets(uris: Sequence[str]) -> list[Any]:
        return [Dataset(namespace=namespace, name=name) for namespace, name in map(dataset_name, uris)]

    return OperatorLineage(inputs=datasets(inputs), outputs=datasets(outputs))
