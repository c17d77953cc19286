# moto in server mode as the S3 store of docker-compose.offline.yaml (MinIO is not packaged in Debian). Build
# context: docker/, so pip trusts build-extras/ca-certificates.crt and follows build-extras/constraints.txt when
# they are there, as in docker/airflow.Dockerfile. moto accepts any credentials, so the ones the Airflow services
# sign with (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD) work, and keeps objects in memory: a restart empties it, and the
# next `up` reruns airflow-init, which creates the bucket and uploads the sample data again.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG MOTO_VERSION=5.2.5
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN if ! python3 -c "import venv, ensurepip" 2> /dev/null; then \
      apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/venv
COPY build-extras/ /opt/build-extras/
RUN set -e; \
    if [ -s /opt/build-extras/ca-certificates.crt ]; then export PIP_CERT=/opt/build-extras/ca-certificates.crt; fi; \
    constraints=""; \
    if [ -s /opt/build-extras/constraints.txt ]; then constraints="-c /opt/build-extras/constraints.txt"; fi; \
    /opt/venv/bin/pip install -q $constraints "moto[s3]==${MOTO_VERSION}" flask flask-cors
ENV PATH=/opt/venv/bin:$PATH
# Python ends on SIGINT even as pid 1 (it ignores an unhandled SIGTERM there).
STOPSIGNAL SIGINT
EXPOSE 9000
CMD ["moto_server", "--host", "0.0.0.0", "--port", "9000"]
