# syntax=docker/dockerfile:1
# The GPU image of the pipeline: training (CUDA torch, DeepSpeed with its ops prebuilt,
# decord); it also serves text encoding and evaluation when those run on the GPU pool.
#   docker build -f images/gpu.Dockerfile -t fgsgl-gpu:VERSION .   (or `make images`)
# Pins come only from pyproject.toml (images/requirements.py prints them). CUDA and
# TORCH_INDEX must name the same CUDA release, one that torch's pinned version is built for:
# torch 2.13.0 is built for CUDA 12.6, 13.0 and 13.2, not 12.8 (PyPI's own Linux wheel is
# the 13.0 build, for drivers 580+); 12.6 runs on the most drivers (docs/images.md).
ARG CUDA=12.6.3
FROM nvidia/cuda:${CUDA}-cudnn-devel-ubuntu22.04 AS build

ARG TORCH_INDEX=https://download.pytorch.org/whl/cu126
# the GPU generations DeepSpeed's kernels are compiled for (A100, A10/L4, L40/4090, H100)
ARG TORCH_CUDA_ARCH_LIST="8.0;8.6;8.9;9.0"
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST}
RUN apt-get update \
 && apt-get install -y --no-install-recommends software-properties-common \
 && add-apt-repository -y ppa:deadsnakes/ppa \
 && apt-get update \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv python3.11-dev \
      ninja-build git \
 && rm -rf /var/lib/apt/lists/* \
 && python3.11 -m venv /opt/venv

# 1. dependencies: torch (CUDA build) first; then the rest, DeepSpeed compiling its ops
#    against that torch (no build isolation) so no JIT build happens in a training pod
WORKDIR /opt/fgsgl/build
COPY pyproject.toml images/requirements.py ./
RUN python requirements.py --only torch > torch.txt \
 && pip install --index-url "$TORCH_INDEX" -r torch.txt
RUN python requirements.py --extra gpu --without torch > requirements.txt \
 && pip install setuptools wheel \
 && DS_BUILD_OPS=1 DS_BUILD_SPARSE_ATTN=0 DS_BUILD_EVOFORMER_ATTN=0 DS_BUILD_CUTLASS_OPS=0 \
    DS_BUILD_RAGGED_DEVICE_OPS=0 DS_BUILD_GDS=0 DS_BUILD_FP_QUANTIZER=0 \
    pip install --no-build-isolation -r requirements.txt \
 && ds_report

# 2. this distribution, without resolving anything again
WORKDIR /opt/fgsgl/src
COPY README.md pyproject.toml ./
COPY fgsgl/ fgsgl/
COPY components/ components/
COPY pipelines/ pipelines/
COPY configs/ configs/
RUN pip install --no-deps . && pip check && fgsgl --version

# The runtime image: the CUDA runtime and the finished environment, no compilers.
FROM nvidia/cuda:${CUDA}-cudnn-runtime-ubuntu22.04
ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN apt-get update \
 && apt-get install -y --no-install-recommends software-properties-common \
 && add-apt-repository -y ppa:deadsnakes/ppa \
 && apt-get update \
 && apt-get install -y --no-install-recommends python3.11 \
 && apt-get purge -y software-properties-common && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
RUN fgsgl --version && python -c "import deepspeed, decord, torch; print(torch.__version__)"

# a user of its own, as in the CPU image (images/cpu.Dockerfile, 4.): uid 1000 in group 0
RUN useradd --uid 1000 --gid 0 --create-home --home-dir /home/fgsgl fgsgl \
 && mkdir -p /work /gcs /minio /s3 \
 && chown 1000:0 /home/fgsgl /work /gcs /minio /s3 \
 && chmod 0775 /home/fgsgl /work /gcs /minio /s3
ENV HOME=/home/fgsgl
USER 1000
WORKDIR /work
ENTRYPOINT []
