"""Processing jobs on EC2: training's instance lifecycle (launch, follow, stop, clean up) without spot, staged beside
the processing record."""

from __future__ import annotations

from typing import Any

from ml_lifecycle.compute.ec2.training_jobs import Ec2TrainingJobs, SpotPolicy
from ml_lifecycle.compute.inputs import list_channels
from ml_lifecycle.compute.local.processing.contract import PROCESSING_CONTRACT
from ml_lifecycle.core.job_kinds import job_output_uri
from ml_lifecycle.core.processing_spec import ProcessingSpec
from ml_lifecycle.core.uris import ArtifactUri


class Ec2ProcessingJobs(Ec2TrainingJobs):
    """Runs each processing job on instances that exist only while it runs; algo-1's agent writes the record.

    :param kwargs: Ec2Jobs's parameters.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(spot=SpotPolicy(), **kwargs)

    def staging(self, spec: ProcessingSpec, job_name: str) -> ArtifactUri:
        """Return the job's staging prefix ``<records_uri>/<job>/staging`` (beside its record, never an output).

        :param spec: the processing spec.
        :param job_name: the job's name.
        """
        return job_output_uri(spec.records_uri, job_name).join("staging")

    def check_inputs(self, spec: ProcessingSpec) -> None:
        """List every input before anything launches (none may be empty).

        :param spec: the processing spec.
        """
        list_channels(dict(PROCESSING_CONTRACT.channels(spec)), self.store_for, PROCESSING_CONTRACT.inputs_parameter)
