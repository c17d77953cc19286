# Airflow 3 with airflow-ml-lifecycle installed; BASE_IMAGE may be the offline-built python:3.11-slim.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ENV AIRFLOW_HOME=/opt/airflow PYTHONUNBUFFERED=1
WORKDIR /opt/ml-lifecycle
COPY setup.py pyproject.toml README.md ./
COPY operators ./operators
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir "apache-airflow==3.3.2" . \
    && mkdir -p /opt/airflow/dags /opt/airflow/plugins
ENV PATH=/opt/venv/bin:$PATH
COPY dags /opt/airflow/dags
COPY plugins /opt/airflow/plugins
COPY examples /opt/ml-lifecycle/examples
EXPOSE 8080
CMD ["airflow", "standalone"]
