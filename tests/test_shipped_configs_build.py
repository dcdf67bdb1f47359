"""Every file in configs/ builds the model it names and trains: a tiny stand-in of the same
model_type and weight layout takes the place of each hub id (served by a weights mirror, as
on a cluster without hub access), the fetch steps copy it, text encoding runs the config's
encoder settings, and one optimisation step of each stage runs on CPU with the config's
precision (bf16 autocast on CPU), LoRA rank, gradient checkpointing, batch x accumulation
and DeepSpeed (gloo, world size 1). A new config file is covered without editing this test
as long as its hub ids are of a kind STANDINS knows."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from text_helpers import remote_code_internvl
from tiny_checkpoints import ORIGINAL_VISION, internvl_original

from fgsgl.config_files import named_configs
from fgsgl.hub import parse_ref
from fgsgl.pipelines.plan import plan_runs, read_settings
from fgsgl.runtime.parameters import training_overrides
from fgsgl.weights import checkpoint_of, fetch_weights

STANDIN_SIZE = ORIGINAL_VISION["image_size"]  # the stand-ins' input size, and the frames'


def internvl2_5_standin(folder: Path) -> None:
    """OpenGVLab's InternVL2.5 in miniature: the original internvl_chat layout (InternViT
    under vision_model.* with its fused qkv, the projector mlp1.*) and a language model
    whose code ships with the checkpoint, as InternLM2 does (text_helpers' fake LM)."""
    lm = folder.with_name(folder.name + "-lm")
    language = remote_code_internvl(lm)
    llm_config = json.loads((lm / "config.json").read_text())["llm_config"]
    lm_weights = {k: v for k, v in language.items() if k.startswith("language_model.")}
    internvl_original(folder, llm_config=llm_config, language=lm_weights)
    for f in lm.iterdir():
        if f.suffix in (".py", ".json") and f.name != "config.json":
            shutil.copy(f, folder / f.name)
    # the tokenizer's loader reads the chat config through its own code (text encoding runs
    # with text_trust_remote_code); the modelling files stay traps that no step may import
    (folder / "configuration_internvl_chat.py").write_text(CHAT_CONFIG)


CHAT_CONFIG = """
from transformers import PretrainedConfig


class InternVLChatConfig(PretrainedConfig):
    model_type = "internvl_chat"
"""


def pretrained_standin(folder: Path) -> None:
    """What `make pretrained` writes (fgsgl pretrain-backbone): a CLIPVisionModel of
    cpu-tiny's tower shape, saved with save_pretrained; random weights stand in for trained."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModel

    from fgsgl.model.backbones import tiny_clip_config

    torch.manual_seed(0)
    config = CLIPVisionConfig(**tiny_clip_config("image=64,patch=8,width=64"))
    CLIPVisionModel(config).save_pretrained(folder)


# how to make a stand-in for a hub id of each kind, by what the id's config.json would say
STANDINS = {"OpenGVLab/InternVL2_5": internvl2_5_standin}
# checkpoints a project command makes, named by a folder relative to the working directory
# (the test runs in its own tmp_path, so the stand-in never replaces a real one)
LOCAL_STANDINS = {"build/pretrained/": pretrained_standin}


def make_mirror(values: dict, mirror: Path) -> None:
    for param, part in (("backbone", "vision"), ("text_encoder", "language")):
        spec = checkpoint_of(values[param], part)
        local = next(
            (m for prefix, m in LOCAL_STANDINS.items() if (spec or "").startswith(prefix)), None
        )
        if local is not None and not Path(spec).is_dir():
            local(Path(spec))
        if spec is None or parse_ref(spec).local is not None or (mirror / spec).is_dir():
            continue
        maker = next((m for prefix, m in STANDINS.items() if spec.startswith(prefix)), None)
        assert maker is not None, f"{param} {spec}: add a stand-in for it to STANDINS"
        maker(mirror / spec)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from fgsgl.synth.generate import SynthConfig, generate

    root = tmp_path_factory.mktemp("synthmg")
    config = SynthConfig(classes=4, clips_per_class=16, subjects=4, size=STANDIN_SIZE, frames=8)
    generate(root / "ds", config, workers=1, progress=False)
    return root / "ds"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(named_configs()))
def test_the_config_builds_its_model_and_trains_one_step_of_each_stage(
    name, dataset, tmp_path, monkeypatch
):
    from fgsgl.artifacts import read_metadata
    from fgsgl.evaluate.run import evaluate
    from fgsgl.runtime.tasks import deepspeed_argument
    from fgsgl.text.encode import encode_texts
    from fgsgl.train import train
    from fgsgl.video.extract import extract

    # every run parameter of the config's full-variant run, as run-local and submit plan it
    values = plan_runs("full", settings=read_settings(config=name))[0].arguments
    # DeepSpeed's one-process rendezvous writes MASTER_PORT & co. into the environment:
    # keep them from the processes later tests start (the port stays bound here)
    for key in ("MASTER_PORT", "MASTER_ADDR", "RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.setenv(key, os.environ.get(key, ""))
        monkeypatch.delenv(key)
    mirror = tmp_path / "mirror"
    monkeypatch.chdir(tmp_path)  # where a config's relative checkpoint folder is looked for
    make_mirror(values, mirror)
    vision = fetch_weights(
        values["backbone"], tmp_path / "w-vision", part="vision", mirror=str(mirror)
    )
    text = fetch_weights(
        values["text_encoder"], tmp_path / "w-text", part="language", mirror=str(mirror)
    )
    vision_dir = str(tmp_path / "w-vision") if vision["files"] else None
    text_dir = str(tmp_path / "w-text") if text["files"] else None

    frames, texts = tmp_path / "frames", tmp_path / "texts"
    extract(str(dataset), str(frames), frames=values["num_frames"], size=STANDIN_SIZE, workers=1)
    encode_texts(
        str(dataset),
        str(texts),
        encoder=values["text_encoder"],
        pooling=values["text_pooling"] or None,
        dtype=values["text_dtype"] or None,
        trust_remote_code=values["text_trust_remote_code"],
        weights=text_dir,
    )
    index = read_metadata(frames, "fgsgl.frames")
    assert index["counts"]["extracted"] == 64
    overrides = training_overrides(values) | {
        "stage1.epochs": 1,
        "stage2.epochs": 1,
        "data.workers": 0,
        "model.proj_hidden": 32,  # the heads' width: not what this test is about
    }
    train_clips = 32  # 2 of the 4 subjects: one optimisation step of batch x accumulation
    assert values["batch_size"] * values["grad_accum"] <= train_clips
    ds = deepspeed_argument(values["deepspeed"])
    common = dict(overrides=overrides, deepspeed=ds, weights=vision_dir)
    stages = [(1, None), (2, "stage1")] if values["ml_co"] else [(2, None)]
    for stage, init in stages:
        out = tmp_path / f"stage{stage}"
        init_dir = str(tmp_path / init) if init else None
        summary = train(str(frames), str(texts), str(out), stage=stage, init=init_dir, **common)
        meta = json.loads((out / "metadata.json").read_text())
        assert summary["epochs"] == 1 and meta["losses"]
        assert meta["backbone"] == values["backbone"]
        assert (
            meta["run"]["config"]["model.gradient_checkpointing"]
            is values["gradient_checkpointing"]
        )
        if vision_dir:  # the weights came from the fetched artifact, pinned as the name says
            assert meta["backbone_weights"]["source"] == "weights"
            assert meta["backbone_weights"]["name"] == checkpoint_of(values["backbone"], "vision")
            assert meta["trainable_by_reading"]
    result = evaluate(str(frames), str(out), str(tmp_path / "eval"), workers=0, weights=vision_dir)
    assert 0.0 <= result["top1"] <= 1.0
