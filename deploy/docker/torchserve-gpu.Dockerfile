# syntax=docker/dockerfile:1
# TorchServe for the gpu pool.
# - Base: NVIDIA's CUDA 12.8 runtime with cuDNN 9 on Ubuntu 24.04. onnxruntime-gpu's PyPI wheels
#   load the system CUDA 12 and cuDNN 9 libraries; torch's cu128 wheel brings its own.
# - Python 3.12 (Ubuntu 24.04's), which the project supports (>=3.11,<3.13).
# - torch 2.13.0 from PyTorch's cu128 index; onnxruntime-gpu replaces the CPU onnxruntime that
#   piper-tts depends on (both install the same `onnxruntime` module, so only one may remain).
# - nvgpu: TorchServe's system metrics import it for GPUUtilization/GPUMemory* on a GPU host;
#   without it every metrics collection logs an import error and reports no GPU figures.
# The node needs an NVIDIA driver that supports CUDA 12.8 (OKE's GPU images do).
#   docker build -f deploy/docker/torchserve-gpu.Dockerfile -t voxflow-torchserve-gpu:0.1.0 .
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --create-home --home-dir /home/model-server model-server
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python3 -m venv /opt/venv \
    && pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128
COPY deploy/docker/requirements-torchserve.txt /tmp/requirements-torchserve.txt
RUN pip install -r /tmp/requirements-torchserve.txt \
    && pip uninstall -y onnxruntime \
    && pip install onnxruntime-gpu==1.31.1 nvgpu==0.10.0
COPY handlers /home/model-server/handlers
ENV PYTHONUNBUFFERED=1 LOG_LOCATION=/home/model-server/logs METRICS_LOCATION=/home/model-server/logs \
    NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /home/model-server
USER 10001:10001
EXPOSE 8080 8082
ENTRYPOINT ["torchserve"]
CMD ["--foreground", "--ts-config=/etc/torchserve/config.properties", "--model-store=/home/model-server/model-store", "--ncs"]
