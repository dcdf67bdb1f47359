"""Pinned checkpoints and the weights artifact: `ORG/NAME@REVISION` names, the Hugging Face
cache (real huggingface_hub, offline, on a cache laid out here), local and gs:// mirrors
(the GCS emulator), only the part's shards copied, and consumers that refuse a weights
artifact made for another name."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from tiny_checkpoints import internvl_original

from fgsgl import storage
from fgsgl.errors import FgsglError
from fgsgl.hashing import sha256_file
from fgsgl.hub import parse_ref, resolve
from fgsgl.weights import CHECKPOINT_KINDS, NO_CHECKPOINT, checkpoint_of, fetch_weights

pytest_plugins = ("object_stores",)  # the `gcs`, `s3` and `store` fixtures

COMMIT = "e9e4c0dc1db56bfab10458671519b7fa3dd29463"
REPO = "OpenGVLab/InternVL2_5-tiny"
VISION_SHARDS = {"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors"}
LANGUAGE_SHARD = "model-00003-of-00003.safetensors"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ckpt") / "InternVL2_5-tiny"
    internvl_original(folder)
    (folder / "tokenizer.model").write_bytes(b"sentencepiece stand-in")
    return folder


def hub_cache(root: Path, checkpoint: Path, *, commit: str = COMMIT, ref: str = "main") -> Path:
    """The Hugging Face cache layout: models--ORG--NAME/{refs/REF, snapshots/COMMIT/...}."""
    repo = root / f"models--{REPO.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / ref).write_text(commit)
    shutil.copytree(checkpoint, repo / "snapshots" / commit, dirs_exist_ok=True)
    return root


@pytest.fixture
def offline_cache(tmp_path, checkpoint, monkeypatch):
    from huggingface_hub import constants

    root = hub_cache(tmp_path / "hf", checkpoint)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return root


def test_names_parse_into_folders_and_pinned_hub_ids(tmp_path):
    ref = parse_ref(f"{REPO}@{COMMIT}")
    assert (ref.repo_id, ref.revision, ref.pinned) == (REPO, COMMIT, True)
    assert parse_ref(f"{REPO}@v2.5").pinned is False  # a tag or branch can move
    assert parse_ref(REPO).revision is None
    odd = tmp_path / "model@v1"  # an existing folder wins over the @ syntax
    odd.mkdir()
    assert parse_ref(str(odd)).local == odd.resolve()
    assert parse_ref(f"{REPO}@{COMMIT}").mirror_name() == f"{REPO}@{COMMIT}"
    for bad in ("/no/such/folder", "org/name@", "a/b/c", "org/na me"):
        with pytest.raises(FgsglError):
            parse_ref(bad)


def test_the_fetch_table_agrees_with_the_backbone_and_encoder_registries():
    from fgsgl.model.backbones import KINDS
    from fgsgl.text.encoders import BUILDERS

    kinds = [e.value for e in KINDS.entries()]
    assert set(CHECKPOINT_KINDS["vision"]) == {v.name for v in kinds if v.needs_source}
    assert set(NO_CHECKPOINT["vision"]) == {v.name for v in kinds if not v.needs_source}
    assert set(CHECKPOINT_KINDS["language"]) | set(NO_CHECKPOINT["language"]) == set(BUILDERS)
    assert checkpoint_of(f"internvl:{REPO}@{COMMIT}", "vision") == f"{REPO}@{COMMIT}"
    assert checkpoint_of("tiny-clip:image=64", "vision") is None
    assert checkpoint_of("minilm", "language") is None
    with pytest.raises(FgsglError, match="not one of tiny-clip, clip:<path-or-id>"):
        checkpoint_of("resnet:x", "vision")


@pytest.mark.parametrize(
    ("part", "shards", "extra"),
    [("vision", VISION_SHARDS, set()), ("language", {LANGUAGE_SHARD}, {"tokenizer.model"})],
)
def test_a_part_copies_only_its_shards_with_their_digests(
    checkpoint, tmp_path, part, shards, extra
):
    meta = fetch_weights(f"internvl:{checkpoint}", tmp_path / "w", part=part)
    files = tmp_path / "w" / "files"
    names = {p.name for p in files.iterdir()}
    code = {"modeling_internvl_chat.py", "configuration_internvl_chat.py", "modeling_intern_vit.py"}
    expected = {"config.json", "model.safetensors.index.json", *shards, *extra}
    assert names == expected | (code if part == "language" else set())
    assert meta["files"] == {n: sha256_file(files / n) for n in names}
    assert (meta["source"], meta["checkpoint"], meta["part"]) == ("local", str(checkpoint), part)


def test_training_reads_the_fetched_artifact_not_the_name(checkpoint, tmp_path):
    from fgsgl.model import ModelConfig, build_model
    from fgsgl.model.backbones import BuildContext

    spec = f"{REPO}@{COMMIT}"
    mirror = tmp_path / "mirror"
    shutil.copytree(checkpoint, mirror / spec)
    fetch_weights(f"internvl:{spec}", tmp_path / "w", part="vision", mirror=str(mirror))
    cfg = ModelConfig(backbone=f"internvl:{spec}", proj_hidden=16)
    torch.manual_seed(0)
    model = build_model(
        cfg, num_classes=3, text_dim=8, ctx=BuildContext(weights=str(tmp_path / "w"))
    )
    torch.manual_seed(0)
    direct = build_model(
        ModelConfig(backbone=f"internvl:{checkpoint}", proj_hidden=16), num_classes=3, text_dim=8
    )
    x = torch.randn(1, 2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.eval()(x).logits, direct.eval()(x).logits)
    assert model.backbone.provenance["source"] == "weights"
    assert model.backbone.provenance["revision"] == COMMIT
    other = ModelConfig(backbone=f"internvl:{REPO}@main", proj_hidden=16)
    with pytest.raises(FgsglError, match=rf"weights of '{REPO}@{COMMIT}', not of '{REPO}@main'"):
        build_model(other, num_classes=3, text_dim=8, ctx=BuildContext(weights=str(tmp_path / "w")))


def test_an_empty_or_wrong_mirror_is_one_clear_error(checkpoint, tmp_path):
    (tmp_path / "mirror" / REPO).mkdir(parents=True)
    with pytest.raises(FgsglError, match=rf"nothing under .*{REPO}@{COMMIT}"):
        fetch_weights(
            f"internvl:{REPO}@{COMMIT}",
            tmp_path / "w",
            part="vision",
            mirror=str(tmp_path / "mirror"),
        )
    assert not (tmp_path / "w").exists()  # nothing half-written
    stray = tmp_path / "mirror" / f"{REPO}@{COMMIT}"
    stray.mkdir()
    (stray / "README.md").write_text("not a checkpoint")
    with pytest.raises(FgsglError, match=r"no config\.json"):
        fetch_weights(
            f"internvl:{REPO}@{COMMIT}",
            tmp_path / "w",
            part="vision",
            mirror=str(tmp_path / "mirror"),
        )


def test_an_object_store_mirror_serves_the_fetch(checkpoint, tmp_path, store):
    spec = f"{REPO}@{COMMIT}"
    storage.upload_dir(checkpoint, store.uri(f"hf/{spec}"))
    meta = fetch_weights(f"internvl:{spec}", tmp_path / "w", part="vision", mirror=store.uri("hf"))
    assert meta["source"] == "mirror" and set(meta["files"]) >= VISION_SHARDS
    assert meta["commit"] == COMMIT  # the name pins it
    assert LANGUAGE_SHARD not in meta["files"]
    for name in meta["files"]:
        assert (tmp_path / "w" / "files" / name).read_bytes() == (checkpoint / name).read_bytes()


def test_a_pinned_id_resolves_through_the_hub_cache_offline(offline_cache, checkpoint, tmp_path):
    snapshot = resolve(f"{REPO}@{COMMIT}", "vision")
    assert snapshot.commit == COMMIT and snapshot.folder.name == COMMIT
    meta = fetch_weights(f"internvl:{REPO}@{COMMIT}", tmp_path / "w", part="vision")
    assert (meta["source"], meta["commit"]) == ("hub", COMMIT)


def test_an_unpinned_id_warns_with_the_commit_to_pin(offline_cache, caplog):
    with caplog.at_level(logging.WARNING, logger="fgsgl"):
        snapshot = resolve(REPO, "vision")
    assert snapshot.commit == COMMIT
    assert f"pin it as {REPO}@{COMMIT}" in caplog.text


def test_a_revision_that_is_not_there_names_the_id_and_revision(offline_cache):
    missing = "0" * 40
    with pytest.raises(
        FgsglError, match=rf"{REPO} at revision '{missing}' is not in the Hugging Face cache"
    ):
        resolve(f"{REPO}@{missing}", "vision")


def test_the_artifact_refuses_another_part(checkpoint, tmp_path):
    from fgsgl.weights import open_weights

    fetch_weights(f"internvl:{checkpoint}", tmp_path / "w", part="language")
    with pytest.raises(FgsglError, match=r"the language weights of .*this step needs vision"):
        open_weights(tmp_path / "w", str(checkpoint), "vision")
    (tmp_path / "w" / "files" / LANGUAGE_SHARD).unlink()
    with pytest.raises(FgsglError, match="files of the artifact are missing"):
        open_weights(tmp_path / "w", str(checkpoint), "language")
    meta = json.loads((tmp_path / "w" / "metadata.json").read_text())
    assert meta["kind"] == "fgsgl.weights"


def test_names_without_a_checkpoint_give_an_empty_artifact(tmp_path):
    from fgsgl.weights import has_files

    meta = fetch_weights("tiny-clip", tmp_path / "w", part="vision")
    assert meta["files"] == {} and meta["checkpoint"] is None
    assert not has_files(tmp_path / "w")
