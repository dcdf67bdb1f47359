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
# OpenCV inside MediaPipe (the pose runtime, 2.) links libGL, libxcb and GLib, which the
# slim image lacks: without them `import mediapipe` fails there
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*
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
RUN python -m venv /opt/pose && /opt/pose/bin/pip install -r pose-requirements.txt \
 && /opt/pose/bin/pip check && /opt/pose/bin/python -c "import mediapipe.python.solutions.holistic"
ENV FGSGL_POSE_PYTHON=/opt/pose/bin/python

# 3. this distribution, without resolving anything again
WORKDIR /opt/fgsgl/src
COPY README.md pyproject.toml ./
COPY fgsgl/ fgsgl/
COPY components/ components/
COPY pipelines/ pipelines/
COPY configs/ configs/
RUN pip install --no-deps . && pip check && fgsgl --version && rm -rf build fgsgl.egg-info

# 4. a user of its own, uid 1000 in group 0 (clusters often forbid root; OpenShift runs an
#    arbitrary uid in group 0): it may write its HOME (Hugging Face, matplotlib and torch
#    caches), /work and the roots KFP's launcher puts artifacts under (/gcs, /minio, /s3)
RUN useradd --uid 1000 --gid 0 --create-home --home-dir /home/fgsgl fgsgl \
 && mkdir -p /work /gcs /minio /s3 \
 && chown 1000:0 /home/fgsgl /work /gcs /minio /s3 \
 && chmod 0775 /home/fgsgl /work /gcs /minio /s3
ENV HOME=/home/fgsgl
USER 1000
WORKDIR /work
ENTRYPOINT []
