"""Distribution airflow-ml-lifecycle: the import package ml_lifecycle lives in operators/."""

from pathlib import Path

from setuptools import find_packages, setup

# operators/ is the import package ml_lifecycle; its subpackages map along with it.
_PACKAGES = ["ml_lifecycle"] + [f"ml_lifecycle.{name}" for name in find_packages("operators")]

setup(
    name="airflow-ml-lifecycle",
    version="0.1.0",
    description="Run the SageMaker container lifecycle from Apache Airflow 3 on infrastructure you own.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=_PACKAGES,
    package_dir={"ml_lifecycle": "operators"},
    package_data={"ml_lifecycle": ["py.typed", "templates/*", "compute/ec2/*.j2"]},
    install_requires=[
        "apache-airflow>=3.1,<4",
        "apache-airflow-providers-amazon>=9.0",
        "boto3>=1.34",
        "docker>=7.1",
        "jinja2>=3.1",
        "optuna>=5.0,<6",  # the search strategies and pruners of TuneOnEC2Operator
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "moto[server]>=5.0",
            "hypothesis>=6.100",
            "ruff>=0.6",
            "apache-airflow-providers-celery>=3.26",
            "celery[redis]>=5.5,<5.7",  # 5.7.0 dropped celery.backends.database.retry, which the provider imports
            "apache-airflow-providers-openlineage>=2.0",  # the operators' OpenLineage datasets are tested through it
            "uvicorn>=0.30",  # serves the SageMaker-compatible API in the tests (Airflow's API server has it too)
        ],
        # OpenLineage events for our operators' runs (their datasets, as the Amazon provider reports SageMaker jobs).
        "openlineage": ["apache-airflow-providers-openlineage>=2.0"],
    },
    entry_points={
        "apache_airflow_provider": [
            "provider_info=ml_lifecycle.provider_info:get_provider_info",
        ],
        "airflow.plugins": [
            "ml_lifecycle=ml_lifecycle.plugin:MlLifecyclePlugin",
        ],
        "console_scripts": [
            "ml-lifecycle=ml_lifecycle.cli:main",
        ],
    },
    classifiers=[
        "Framework :: Apache Airflow",
        "Framework :: Apache Airflow :: Provider",
        "Programming Language :: Python :: 3.11",
    ],
)
