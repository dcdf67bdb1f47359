# syntax=docker/dockerfile:1
# The CPU image of the pipeline: frame extraction, pose, FG-Text attributes and encoding,
# evaluation.
#   docker build -f images/cpu.Dockerfile -t fgsgl-cpu:VERSION .   (or `make images`)
# Pins come only from pyproject.toml (images/requirements.py prints them); the dependency
# layers come before the source, so a code change rebuilds only the last layers.
FROM python:3.11-slim-bookworm

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv

# 1. dependencies: torch (CPU build) first, then everything else pyproject pins
WORKDIR /opt/fgsgl/build
COPY pyproject.toml images/requirements.py ./
RUN python requirements.py --only torch > torch.txt \
 && pip install --index-url "$TORCH_INDEX" -r torch.txt
RUN python requirements.py --without torch > requirements.txt \
 && pip install -r requirements.txt

# 2. the pose runtime of `fgsgl pose` (MediaPipe needs protobuf<5, kfp protobuf>=6: an
#    environment of its own, found through FGSGL_POSE_PYTHON)
COPY fgsgl/pose/requirements.txt pose-requirements.txt
RUN python -m venv /opt/pose && /opt/pose/bin/pip install -r pose-requirements.txt
ENV FGSGL_POSE_PYTHON=/opt/pose/bin/python

# 3. this distribution, without resolving anything again
WORKDIR /opt/fgsgl/src
COPY README.md pyproject.toml ./
COPY fgsgl/ fgsgl/
COPY components/ components/
COPY pipelines/ pipelines/
RUN pip install --no-deps . && pip check && fgsgl --version

WORKDIR /work
ENTRYPOINT []
