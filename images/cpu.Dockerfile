# syntax=docker/dockerfile:1
# The CPU image of the pipeline: frame extraction, FG-Text encoding, evaluation.
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

# 2. this distribution, without resolving anything again
WORKDIR /opt/fgsgl/src
COPY README.md pyproject.toml ./
COPY fgsgl/ fgsgl/
COPY components/ components/
COPY pipelines/ pipelines/
RUN pip install --no-deps . && pip check && fgsgl --version

WORKDIR /work
ENTRYPOINT []
