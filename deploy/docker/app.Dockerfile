# syntax=docker/dockerfile:1
# The Voxflow app image: `voxflow web`, `voxflow worker temporal|inference|relay`, migrations and
# the TorchServe pods' model-fetch init container. Build from the repository root:
#   docker build -f deploy/docker/app.Dockerfile -t voxflow-app:0.1.0 .
FROM python:3.11.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
# torch first and from the CPU index, as pyproject pins it: PyPI's default build is CUDA (GBs).
RUN python -m venv /opt/venv \
    && pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
WORKDIR /src
COPY pyproject.toml README.md ./
COPY voxflow ./voxflow
COPY workflows ./workflows
COPY activities ./activities
COPY handlers ./handlers
COPY web ./web
RUN pip install .

FROM python:3.11.13-slim-bookworm
# ffmpeg encodes chapters (MP3/OGG) and builds the M4B. Debian's security updates move its
# exact version, so it follows bookworm's line rather than an exact pin.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /scratch voxflow
COPY --from=build /opt/venv /opt/venv
COPY deploy/docker/tcp_probe.py /opt/voxflow/tcp_probe.py
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/scratch
WORKDIR /scratch
USER 10001:10001
ENTRYPOINT ["voxflow"]
CMD ["--help"]
