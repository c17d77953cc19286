"""The Amazon provider's system-test DAG example_sagemaker.py as it runs here: the provider's text with named
rewrites only, each matching exactly once. Replaced: the closed-source k-NN image, the processing image the DAG builds
from Amazon Linux with yum and pip (by one built offline with Debian's numpy and pandas: PROCESSING_BASE_DOCKERFILE),
its ECR logins and push (moto's ECR has no registry: ecr_push.py records the image there), and the test-harness
imports. Removed: the AutoML, experiment and model-package tasks, which this project does not serve."""

from __future__ import annotations

import sys
from pathlib import Path

from support.provider_examples import HARNESS_IMPORTS, provider_example, with_replacements, without_blocks

NAME = "example_sagemaker.py"
ECR_PUSH = Path(__file__).with_name("ecr_push.py")
# What the DAG's processing image needs (python3, numpy, pandas), from Debian's packages; Debian's python3 comes
# first on PATH, as a python:3.11-slim base has its own in /usr/local/bin.
PROCESSING_BASE_DOCKERFILE = """\
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
RUN apt-get update \\
    && apt-get install -y --no-install-recommends python3 python3-numpy python3-pandas \\
    && rm -rf /var/lib/apt/lists/*
ENV PATH="/usr/bin:${PATH}" PYTHONUNBUFFERED=1
"""
# The harness import set_up makes again, indented (the module-level one is in HARNESS_IMPORTS).
SET_UP_HARNESS_IMPORT = {
    "    from tests_common.test_utils.version_compat import AIRFLOW_V_3_0_PLUS\n": (
        "    from harness import AIRFLOW_V_3_0_PLUS\n"
    ),
}
# The tasks of features this project does not serve: AutoML, experiments, the model registry's packages.
UNSERVED_BLOCKS = {
    "automl_and_experiment_tasks": (
        "# [START howto_operator_sagemaker_auto_ml]",
        "# [END howto_operator_sagemaker_experiment]",
    ),
    "register_model_task": ("# [START howto_operator_sagemaker_register]", "# [END howto_operator_sagemaker_register]"),
    "automl_and_experiment_teardown": ('stop_automl_job(test_setup["auto_ml_job_name"]),', '-aws-tuning-job",'),
}
UNSERVED_CHAIN_LINKS = {
    "        automl,\n        await_automl,\n        create_experiment,\n": "",
    "        register_model,\n": "",
    '        delete_model_group(test_setup["model_package_group_name"], register_model.output),\n': "",
    # what is left of the experiments' teardown once its first lines are gone: the end of its call
    "            ]\n        ),\n        delete_docker_image": "        delete_docker_image",
}


def processing_image_rewrites(base_image: str) -> dict[str, str]:
    """Return the rewrites of the DAG's processing image: built on our offline image, from a context of the two files
    the Dockerfile names (not all of /tmp), and recorded in moto's ECR in place of its logins and push.

    :param base_image: the image built from PROCESSING_BASE_DOCKERFILE.
    """
    return {
        "            FROM public.ecr.aws/amazonlinux/amazonlinux\n": f"            FROM {base_image}\n",
        "            RUN yum install python3 pip -y\n            RUN pip3 install boto3 pandas requests\n": "",
        (
            "            # login to public ecr repo containing amazonlinux image (public login is always on us east 1)\n"
            "            aws ecr-public get-login-password --region us-east-1 |\n"
            "            docker login --username AWS --password-stdin public.ecr.aws &&\n"
            "            docker build --platform=linux/amd64 -f {dockerfile.name} -t {repository_uri} /tmp &&\n"
            "\n"
            "            # login again, this time to the private repo we created to hold that specific image\n"
            "            aws ecr get-login-password --region {ecr_region} |\n"
            "            docker login --username AWS --password-stdin {repository_uri} &&\n"
            "            docker push {repository_uri}\n"
        ): (
            '            tar -C /tmp -c {preprocessing_script.name.split("/")[2]} {dockerfile.name.split("/")[2]} |\n'
            '            docker build --platform=linux/amd64 -f {dockerfile.name.split("/")[2]} -t {repository_uri} - &&\n'
            f"            {sys.executable} {ECR_PUSH} {{repository_uri}}\n"
        ),
    }


def example_sagemaker_text(knn_image: str, processing_base_image: str) -> str:
    """Return example_sagemaker.py as it runs here.

    :param knn_image: the open k-NN image (examples/containers/knn).
    :param processing_base_image: the image built from PROCESSING_BASE_DOCKERFILE.
    """
    text = without_blocks(provider_example(NAME), UNSERVED_BLOCKS)
    return with_replacements(
        text,
        {
            **SET_UP_HARNESS_IMPORT,
            **HARNESS_IMPORTS,
            '"us-east-1": "382416733822.dkr.ecr.us-east-1.amazonaws.com/knn:1"': f'"us-east-1": "{knn_image}"',
            **processing_image_rewrites(processing_base_image),
            **UNSERVED_CHAIN_LINKS,
        },
    )
