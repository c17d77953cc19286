"""Provider metadata for Airflow's providers manager (the apache_airflow_provider entry point)."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Describe this package to Airflow: its operators, sensors, triggers and extra links."""
    return {
        "package-name": "airflow-ml-lifecycle",
        "name": "ML lifecycle",
        "description": "Run the SageMaker container lifecycle (build, push, train, export, transform, serve) "
        "on infrastructure you own: the local Docker engine or EC2.",
        "versions": ["0.1.0"],
        "operators": [
            {
                "integration-name": "ML lifecycle",
                "python-modules": [
                    "ml_lifecycle.build_image",
                    "ml_lifecycle.push_to_ecr",
                    "ml_lifecycle.train_on_ec2",
                    "ml_lifecycle.process_on_ec2",
                    "ml_lifecycle.tune_on_ec2",
                    "ml_lifecycle.export_artifacts",
                    "ml_lifecycle.batch_transform",
                    "ml_lifecycle.deploy_endpoint",
                    "ml_lifecycle.teardown",
                    "ml_lifecycle.reaper",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "ML lifecycle",
                "python-modules": [
                    "ml_lifecycle.sensors.endpoint_in_service",
                    "ml_lifecycle.sensors.training_job",
                    "ml_lifecycle.sensors.image_in_registry",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "ML lifecycle",
                "python-modules": ["ml_lifecycle.triggers.job_record", "ml_lifecycle.triggers.tuning_trials"],
            }
        ],
        "extra-links": [
            "ml_lifecycle.links.artifacts.ImageLink",
            "ml_lifecycle.links.jobs.InstancesLink",
            "ml_lifecycle.links.jobs.JobLogsLink",
            "ml_lifecycle.links.artifacts.TrainingArtifactsLink",
            "ml_lifecycle.links.artifacts.ModelVersionLink",
            "ml_lifecycle.links.artifacts.PredictionsLink",
            "ml_lifecycle.links.artifacts.EndpointLink",
        ],
        "integrations": [
            {
                "integration-name": "ML lifecycle",
                "external-doc-url": "https://github.com/airflow-ml-lifecycle/airflow-ml-lifecycle",
                "tags": ["software"],
            }
        ],
    }
