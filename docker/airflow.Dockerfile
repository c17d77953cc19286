# Airflow 3.3 with airflow-ml-lifecycle installed, for docker-compose.yaml.
# BASE_IMAGE may be the python:3.11-slim that scripts/bootstrap.sh builds offline (Debian python3 without venv:
# it is added with apt). docker/build-extras/ may hold a CA bundle and pip constraints (see its README).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG AIRFLOW_VERSION=3.3.2
ENV AIRFLOW_HOME=/opt/airflow PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /opt/ml-lifecycle
RUN if ! python3 -c "import venv, ensurepip" 2> /dev/null; then \
      apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/venv
COPY docker/build-extras/ /opt/build-extras/
# Airflow and the heavy dependencies first, in a layer of their own: a change to our code does not reinstall them.
RUN set -e; \
    if [ -s /opt/build-extras/ca-certificates.crt ]; then export PIP_CERT=/opt/build-extras/ca-certificates.crt; fi; \
    constraints=""; \
    if [ -s /opt/build-extras/constraints.txt ]; then constraints="-c /opt/build-extras/constraints.txt"; fi; \
    /opt/venv/bin/pip install -q $constraints "apache-airflow[postgres]==${AIRFLOW_VERSION}" \
      apache-airflow-providers-amazon boto3 docker jinja2 \
    && mkdir -p /opt/airflow/dags /opt/airflow/plugins /opt/airflow/logs
COPY setup.py pyproject.toml README.md ./
COPY operators ./operators
RUN set -e; \
    if [ -s /opt/build-extras/ca-certificates.crt ]; then export PIP_CERT=/opt/build-extras/ca-certificates.crt; fi; \
    constraints=""; \
    if [ -s /opt/build-extras/constraints.txt ]; then constraints="-c /opt/build-extras/constraints.txt"; fi; \
    /opt/venv/bin/pip install -q $constraints "apache-airflow[postgres]==${AIRFLOW_VERSION}" .
ENV PATH=/opt/venv/bin:$PATH
COPY dags /opt/airflow/dags
COPY plugins /opt/airflow/plugins
COPY examples /opt/ml-lifecycle/examples
COPY docker/compose_init.py /opt/ml-lifecycle/compose_init.py
# DeployEndpoint builds its nginx proxy image from this folder on the engine the socket reaches.
COPY docker/endpoint-proxy /opt/ml-lifecycle/endpoint-proxy
ENV ML_LIFECYCLE_PROXY_CONTEXT=/opt/ml-lifecycle/endpoint-proxy
EXPOSE 8080
CMD ["airflow", "api-server"]
