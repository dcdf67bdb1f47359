# The README's commands. Every target builds or refreshes the venv first, so each
# works on a fresh machine that has only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch first, from pyproject's own pin: installed before anything that depends on it,
# so that pip never resolves a multi-GB CUDA build on its own.
TORCH  := $(shell grep -o '"torch==[^"]*"' pyproject.toml | tr -d '"')
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
DEMO   ?= demo-out
VERSION := $(shell grep -m1 '^version' pyproject.toml | cut -d'"' -f2)
export PIP_NO_WARN_SCRIPT_LOCATION=1
SHELL  := /bin/bash
.SHELLFLAGS := -o pipefail -c
# this machine's pip config names index folders that may not exist; hide only those lines
QUIET  := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: venv pose-venv labelstudio-venv image-tools cpu-image demo test lint components bench study study-default pretrained study-pretrained compile images clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	@echo "==> preparing $(VENV) (torch CPU build first, then fgsgl and its dev/gpu extras)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP) install "$(TORCH)" 2>&1 | $(QUIET)
	@$(PIP) install -e ".[dev,gpu]" 2>&1 | $(QUIET)
	@$(BIN)/python -c "import torch, fgsgl; assert torch.__version__.startswith('$(subst torch==,,$(TORCH))'), torch.__version__"
	@touch $@

# the pose runtime of `fgsgl pose` (fgsgl/pose/runtime.py): MediaPipe needs protobuf<5 and
# kfp protobuf>=6, so it gets an environment of its own, inside ours, where fgsgl finds it
POSE_VENV := $(VENV)/pose
pose-venv: $(POSE_VENV)/.installed

$(POSE_VENV)/.installed: fgsgl/pose/requirements.txt
	@echo "==> preparing $(POSE_VENV) (MediaPipe, for fgsgl pose)"
	@test -x $(POSE_VENV)/bin/python || $(PYTHON) -m venv $(POSE_VENV)
	@$(POSE_VENV)/bin/python -m pip --disable-pip-version-check -q install -r $< 2>&1 | $(QUIET)
	@$(POSE_VENV)/bin/python -c "import mediapipe.python.solutions.holistic"
	@touch $@

# Label Studio for `fgsgl annotate` (its SDK validates exported projects; the tests run a
# real server): label-studio 1.23.2 pins numpy 2.2.x, so it gets an environment of its own
LS_VENV := $(VENV)/labelstudio
labelstudio-venv: $(LS_VENV)/.installed

$(LS_VENV)/.installed:
	@echo "==> preparing $(LS_VENV) (Label Studio 1.23.2, for fgsgl annotate)"
	@test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	@$(LS_VENV)/bin/python -m pip --disable-pip-version-check -q install label-studio==1.23.2 2>&1 | $(QUIET)
	@$(LS_VENV)/bin/python -c "import label_studio_sdk.label_interface"
	@touch $@

# buildah and debootstrap, which build and run the CPU image where there is no Docker engine
# (images/build.py; tests/test_images_build.py): installed only as root where apt-get is
# present, and only when missing; elsewhere that test says why it skips
IMAGE_TOOLS := buildah debootstrap
APT_TOOLS := apt-get install -y -q --no-install-recommends $(IMAGE_TOOLS) >/dev/null 2>&1
image-tools:
	@if command -v buildah >/dev/null && command -v debootstrap >/dev/null; then :; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "==> $(IMAGE_TOOLS): missing, and only root with apt-get installs them: the image test skips"; \
	else echo "==> installing $(IMAGE_TOOLS) (apt-get)"; \
	  $(APT_TOOLS) || { apt-get update -q >/dev/null 2>&1 && $(APT_TOOLS); } \
	  || echo "==> apt-get could not install $(IMAGE_TOOLS): the image test skips"; fi

demo: venv
	$(BIN)/fgsgl demo --out $(DEMO)

test: venv pose-venv labelstudio-venv cpu-image
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n 2 --dist loadfile  # two processes, a test file each: servers and pipelines wait a lot

lint: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# components/train.py from the settings schema, after adding or changing a training setting
components: venv
	$(BIN)/python -m fgsgl.components.generate

bench: venv pose-venv
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

# the SynthMG study (issue 21): the compositional preset, the five FG-SGL variants x 5 paired
# seeds and CLIP-MG x 2, with the minimum detectable effect of every ablation difference,
# low-shot and shortcut accuracy and attribute probes, written to
# docs/results/synthmg-compositional.md (about 80 min on 2 cores; reruns use the cache)
study: venv
	$(BIN)/python -m fgsgl.pipelines.study_compositional --out study-compositional --page docs/results/synthmg-compositional.md --seeds 0,1,2,3,4 --baseline-seeds 0,1 --probe-seeds 0,1

# the default-preset study (every variant x 3 seeds on SynthMG default): docs/results/synthmg.md
study-default: venv
	$(BIN)/python -m fgsgl.pipelines.study --out study-out --page docs/results/synthmg.md --seeds 0,1,2

# a tiny CLIP tower pretrained on a SynthMG corpus that shares no class or subject with the
# compositional study (issue 21, item 6), which configs/cpu-compositional-pretrained.yaml
# adapts with LoRA (`--config cpu-compositional-pretrained`); a rerun with the same
# settings returns at once (fgsgl/train/pretrain.py)
pretrained: venv
	$(BIN)/fgsgl pretrain-backbone build/pretrained/tiny-clip-synthmg

# the compositional study again on that tower with LoRA (the paper's regime): the three
# variants that share stage 1 (full, no_fg_sa, class_text: the claims about fine-grained
# text) x seeds 0-2, probes on seed 0; the page gives the MDE that leaves:
# docs/results/synthmg-compositional-pretrained.md
study-pretrained: pretrained
	$(BIN)/python -m fgsgl.pipelines.study_compositional --out study-compositional-pretrained --page docs/results/synthmg-compositional-pretrained.md --config cpu-compositional-pretrained --variants full,no_fg_sa,class_text --seeds 0,1,2 --baseline-seeds '' --probe-seeds 0

compile: venv
	$(BIN)/fgsgl compile --variant all --out build/pipelines

# the tags `fgsgl compile` uses by default (fgsgl-cpu:VERSION, fgsgl-gpu:VERSION): docker
# build of both where a Docker engine answers; else the CPU image with buildah on a local
# Debian base (images/build.py, docs/images.md); else one line saying what is missing
images:
	@$(PYTHON) images/build.py

# the CPU image with buildah before the suite, so that tests/test_images_build.py finds
# its layers cached (a cold build takes minutes; its log: build/cpu-image.log); where
# buildah cannot build, one line saying why, and that test skips
cpu-image: image-tools
	@echo "==> building the CPU image with buildah (log: build/cpu-image.log)"
	@mkdir -p build && $(PYTHON) images/build.py --engine buildah --if-possible 2> build/cpu-image.log \
	  || { tail -30 build/cpu-image.log; exit 1; }
	@grep "^make images:" build/cpu-image.log || true

clean:
	rm -rf $(VENV) $(DEMO) study-out study-compositional study-compositional-pretrained build dist *.egg-info
