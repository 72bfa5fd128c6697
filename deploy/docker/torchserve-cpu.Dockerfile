# syntax=docker/dockerfile:1
# TorchServe for the cpu pool: Java 17, torch 2.13.0 CPU, onnxruntime, the handlers' libraries.
# Models are not baked in: the pod's init container pulls the .mar archives (deploy/README.md).
#   docker build -f deploy/docker/torchserve-cpu.Dockerfile -t voxflow-torchserve-cpu:0.1.0 .
FROM python:3.11.13-slim-bookworm
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --create-home --home-dir /home/model-server model-server
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv \
    && pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY deploy/docker/requirements-torchserve.txt /tmp/requirements-torchserve.txt
RUN pip install -r /tmp/requirements-torchserve.txt onnxruntime==1.32.0
# The handler sources of this release, for reference and `python -m` debugging; TorchServe runs
# the copies packed in each .mar, which must be built from the same commit.
COPY handlers /home/model-server/handlers
ENV PYTHONUNBUFFERED=1 LOG_LOCATION=/home/model-server/logs METRICS_LOCATION=/home/model-server/logs
WORKDIR /home/model-server
USER 10001:10001
EXPOSE 8080 8082
ENTRYPOINT ["torchserve"]
CMD ["--foreground", "--ts-config=/etc/torchserve/config.properties", "--model-store=/home/model-server/model-store", "--ncs"]
