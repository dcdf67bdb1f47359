"""Text encoders by name: the packaged MiniLM against its references, tiny hf: and internvl:
models saved by the tests, remote code only when asked, and clear errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from text_helpers import (
    as_internvl_chat,
    remote_code_internvl,
    remote_code_tokenizer,
    tiny_bert,
    tiny_internvl,
)

from fgsgl.errors import FgsglError
from fgsgl.text import checkpoints
from fgsgl.text.encoders import (
    build_encoder,
    check_options,
    minilm_folder,
    parse_encoder_name,
    pool,
)
from fgsgl.text.pooling import FAMILY_POOLINGS, POOLINGS

# The sentence set of the sentence-transformers quick start (sbert.net), documented there
# for all-MiniLM-L6-v2 as [[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], ...]; the
# constants carry two more digits, measured with sentence-transformers 6.2.0.
DOCUMENTED = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
DOCUMENTED_COSINES = {(0, 1): 0.665955, (0, 2): 0.104584, (1, 2): 0.141145}
# SHA-256 of all-MiniLM-L6-v2's model.safetensors as published on the Hugging Face hub.
MINILM_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

TEXTS = [
    "A person moves the right hand upward and inward to the left eye and rubs quickly in small "
    "circles.",
    "With both hands, a person reaches forward to the palms and rubs them together.",
    "A person is touching neck.",
    "Moving the left hand straight upward, a person reaches the mouth and covers it briefly.",
]


@pytest.fixture(scope="module")
def minilm():
    return build_encoder("minilm")


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return tiny_bert(tmp_path_factory.mktemp("bert") / "model")


# ---------------------------------------------------------------- minilm


def test_minilm_loads_offline_from_the_package(minilm):
    assert minilm.name == "minilm"
    assert minilm.dim == 384 and minilm.pooling == "mean" and minilm.max_length == 256
    assert minilm.dtype == torch.float32 and minilm.device.type == "cpu"
    assert minilm.weight_files == {"model.safetensors": MINILM_WEIGHTS_SHA256}
    assert minilm.folder == str(minilm_folder())


def test_minilm_gives_the_documented_similarities(minilm):
    e = minilm.encode(DOCUMENTED)
    sims = e @ e.T
    np.testing.assert_allclose(np.diag(sims), 1.0, atol=1e-5)
    for (i, j), expected in DOCUMENTED_COSINES.items():
        assert sims[i, j] == pytest.approx(expected, abs=1e-4)


def test_minilm_matches_sentence_transformers(minilm):
    """sentence-transformers is the reference implementation of this model's pooling."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(minilm_folder()), device="cpu")
    texts = [*DOCUMENTED, *TEXTS, "short", "a much longer sentence " * 12]
    expected = reference.encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    ours = minilm.encode(texts, batch_size=3)  # several batches, padded to different lengths
    np.testing.assert_allclose(ours, expected, atol=1e-4)


@pytest.mark.parametrize("how", ["cls", "mean_text", "last"])
def test_minilm_refuses_any_pooling_but_mean(how):
    with pytest.raises(FgsglError, match=rf"'minilm' takes --pooling mean, not {how}.*hf:"):
        build_encoder("minilm", pooling=how)


# ---------------------------------------------------------------- batching and pooling


def test_encode_keeps_input_order_and_does_not_depend_on_batching(minilm):
    one_by_one = np.stack([minilm.encode([t], progress=False)[0] for t in TEXTS])
    batched = minilm.encode(TEXTS, batch_size=64)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    assert batched.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-6)
    assert minilm.encode([]).shape == (0, 384)


def test_pool_by_hand():
    # <s> a b <pad>, and <s> a b c: position 0 is a special token in both
    hidden = torch.tensor(
        [
            [[10.0, 20.0], [3.0, 4.0], [5.0, 6.0], [100.0, 100.0]],
            [[10.0, 20.0], [1.0, 1.0], [2.0, 2.0], [3.0, 0.0]],
        ]
    )
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    special = torch.tensor([[1, 0, 0, 1], [1, 0, 0, 0]])
    assert pool(hidden, mask, "mean").tolist() == [[6.0, 10.0], [4.0, 5.75]]
    assert pool(hidden, mask, "mean_text", special).tolist() == [[4.0, 5.0], [2.0, 1.0]]
    assert pool(hidden, mask, "last").tolist() == [[5.0, 6.0], [3.0, 0.0]]
    assert pool(hidden, mask, "cls").tolist() == [[10.0, 20.0], [10.0, 20.0]]
    # left padding: the last real token is still the last one the mask marks
    left = torch.tensor([[0, 1, 1, 1]])
    assert pool(hidden[:1], left, "last").tolist() == [[100.0, 100.0]]
    # a text of special tokens alone falls back to the mean over its real tokens
    only = torch.tensor([[1, 1, 1, 0]])
    assert pool(hidden[:1], mask[:1], "mean_text", only).tolist() == [[6.0, 10.0]]
    with pytest.raises(ValueError, match="special-tokens mask"):
        pool(hidden, mask, "mean_text")
    with pytest.raises(ValueError, match="pooling"):
        pool(hidden, mask, "max")


def test_each_family_accepts_its_poolings_at_option_check_time():
    """One clear error before any data or model is read (check_options loads nothing)."""
    assert FAMILY_POOLINGS == {
        "minilm": ("mean",),
        "hf": ("mean", "mean_text", "last", "cls"),
        "internvl": ("mean_text", "mean", "last"),
    }
    for family, name in (("minilm", "minilm"), ("hf", "hf:x"), ("internvl", "internvl:x")):
        for how in POOLINGS:
            if how in FAMILY_POOLINGS[family]:
                assert check_options(name, pooling=how)[0] == family
            else:
                with pytest.raises(FgsglError, match=f"encoder '{family}' takes --pooling"):
                    check_options(name, pooling=how)
    with pytest.raises(FgsglError, match="BOS, whose state is the same for every text"):
        check_options("internvl:/no/such/folder", pooling="cls")
    with pytest.raises(FgsglError, match=r"pooling 'max': not one of mean, mean_text, last, cls"):
        check_options("hf:x", pooling="max")


# ---------------------------------------------------------------- hf:


def _bert_by_hand(folder, text: str, how: str) -> np.ndarray:
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(folder).eval()
    batch = AutoTokenizer.from_pretrained(folder)(text, return_tensors="pt")
    with torch.no_grad():
        h = model(**batch).last_hidden_state[0]
    # [CLS] text [SEP]: the text's own tokens are 1..n-2, [SEP] is the last
    v = {"mean": h.mean(0), "mean_text": h[1:-1].mean(0), "last": h[-1], "cls": h[0]}[how]
    return (v / v.norm()).numpy()


@pytest.mark.parametrize("how", POOLINGS)
def test_hf_encoder_pools_as_asked(bert_dir, how):
    enc = build_encoder(f"hf:{bert_dir}", pooling=how)
    assert enc.name == f"hf:{bert_dir}" and enc.dim == 32 and enc.pooling == how
    got = enc.encode(TEXTS, batch_size=4)  # padded to the longest: pads change nothing
    for i, text in enumerate(TEXTS):
        np.testing.assert_allclose(got[i], _bert_by_hand(bert_dir, text, how), atol=1e-5)


def test_hf_default_pooling_follows_sentence_transformers_config(bert_dir, tmp_path):
    folder = tmp_path / "st"
    shutil.copytree(bert_dir, folder)
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert build_encoder(f"hf:{folder}").pooling == "cls"
    assert build_encoder(f"hf:{bert_dir}").pooling == "mean"
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode": "cls"}))
    assert build_encoder(f"hf:{folder}").pooling == "cls"
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode": "lasttoken"}))
    assert build_encoder(f"hf:{folder}").pooling == "last"
    assert build_encoder(f"hf:{folder}", pooling="mean").pooling == "mean"  # asked beats config


def test_hf_warns_about_sentence_transformers_steps_it_does_not_apply(bert_dir, tmp_path, caplog):
    folder = tmp_path / "dense"
    shutil.copytree(bert_dir, folder)
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode": "max"}))
    modules = [
        {"type": "sentence_transformers.models.Transformer"},
        {"type": "sentence_transformers.models.Pooling"},
        {"type": "sentence_transformers.models.Dense"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    with caplog.at_level("WARNING", logger="fgsgl"):
        assert build_encoder(f"hf:{folder}").pooling == "mean"
    assert "not applied: ['Dense']" in caplog.text
    assert "pooling 'max' is not supported" in caplog.text


def test_hf_revision_hashes_the_weights(bert_dir, tmp_path):
    enc = build_encoder(f"hf:{bert_dir}")
    other = tiny_bert(tmp_path / "other", seed=1)
    assert build_encoder(f"hf:{other}").revision != enc.revision
    copy = tmp_path / "copy"
    shutil.copytree(bert_dir, copy)
    assert build_encoder(f"hf:{copy}").revision == enc.revision


# ---------------------------------------------------------------- internvl:


def _lm_by_hand(lm, tokenizer, text: str, how: str = "mean_text") -> np.ndarray:
    """From the model's own hidden states: the tokenizer prepends <s> and appends nothing,
    so the text's own tokens are positions 1..n and the last real token is position n."""
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    assert ids[0, 0] == tokenizer.bos_token_id and ids[0, -1] != tokenizer.eos_token_id
    with torch.no_grad():
        h = lm(input_ids=ids).last_hidden_state[0]
    v = {"mean_text": h[1:].mean(0), "mean": h.mean(0), "last": h[-1]}[how]
    return (v / v.norm()).numpy()


@pytest.fixture(scope="module")
def internvl(tmp_path_factory):
    folder = tmp_path_factory.mktemp("internvl") / "model"
    return folder, tiny_internvl(folder)


def test_internvl_uses_the_language_model_alone(internvl):
    folder, full = internvl
    enc = build_encoder(f"internvl:{folder}")
    assert enc.dim == 32 and enc.pooling == "mean_text"  # the default for a causal LM
    names = [n for n, _ in enc.backbone.named_parameters()]
    assert not any("vision" in n or "projector" in n for n in names)
    lm = full.model.language_model
    assert sum(p.numel() for p in enc.backbone.parameters()) == sum(
        p.numel() for p in lm.parameters()
    )
    got = enc.encode(TEXTS)
    for i, text in enumerate(TEXTS):
        np.testing.assert_allclose(got[i], _lm_by_hand(lm, enc.tokenizer, text), atol=1e-5)


@pytest.mark.parametrize("how", ["mean_text", "mean", "last"])
def test_internvl_pools_as_asked_from_its_own_hidden_states(internvl, how):
    folder, full = internvl
    enc = build_encoder(f"internvl:{folder}", pooling=how)
    assert enc.pooling == how and enc.describe()["pooling"] == how
    lm = full.model.language_model
    assert enc.tokenizer.unk_token_id in enc.tokenizer(TEXTS[0])["input_ids"]  # ".": kept
    got = enc.encode(TEXTS, batch_size=1)
    for i, text in enumerate(TEXTS):
        np.testing.assert_allclose(got[i], _lm_by_hand(lm, enc.tokenizer, text, how), atol=1e-5)


@pytest.mark.parametrize("how", ["mean_text", "mean", "last"])
def test_internvl_text_does_not_depend_on_its_batch(internvl, how):
    """Right padding: a causal model's real tokens never see the pads after them, and no
    pooling reads a pad."""
    folder, _ = internvl
    enc = build_encoder(f"internvl:{folder}", pooling=how)
    alone = enc.encode(TEXTS[2:3])
    with_longer = enc.encode(TEXTS, batch_size=4)[2:3]
    np.testing.assert_allclose(with_longer, alone, atol=1e-5)


def test_internvl_poolings_differ_and_the_bos_state_is_shared(internvl):
    """Why mean_text: the BOS state is the same for every text, so it pulls means together."""
    folder, full = internvl
    enc = build_encoder(f"internvl:{folder}")
    ids = enc.tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = full.model.language_model(**ids).last_hidden_state
    torch.testing.assert_close(h[:, 0], h[:1, 0].expand_as(h[:, 0]))
    means = {
        how: build_encoder(f"internvl:{folder}", pooling=how).encode(TEXTS)
        for how in ("mean_text", "mean", "last")
    }
    assert not np.allclose(means["mean_text"], means["mean"], atol=1e-3)
    assert not np.allclose(means["mean_text"], means["last"], atol=1e-3)


def test_internvl_refuses_cls_before_reading_the_model(tmp_path):
    with pytest.raises(FgsglError, match=r"'internvl' takes --pooling mean_text \| mean \| last"):
        build_encoder(f"internvl:{tmp_path / 'not-even-there'}", pooling="cls")


def test_internvl_chat_layout_with_a_native_language_model_needs_no_remote_code(internvl, tmp_path):
    folder, _ = internvl
    as_internvl_chat(folder, tmp_path / "chat")
    native = build_encoder(f"internvl:{folder}").encode(TEXTS)
    chat = build_encoder(f"internvl:{tmp_path / 'chat'}").encode(TEXTS)
    np.testing.assert_allclose(chat, native, atol=1e-6)


def _fake_lm_by_hand(weights, ids: list[int]) -> np.ndarray:
    """FakeLMModel's token states by hand, pooled mean_text: without the <s> at position 0."""
    emb = weights["language_model.model.tok_embeddings.weight"][torch.tensor(ids)]
    w, b = weights["language_model.model.proj.weight"], weights["language_model.model.proj.bias"]
    v = torch.tanh(emb @ w.T + b)[1:].mean(0)
    return (v / v.norm()).numpy()


def test_internvl_remote_code_runs_only_when_trusted(tmp_path):
    weights = remote_code_internvl(tmp_path / "remote")
    with pytest.raises(FgsglError, match="--trust-remote-code"):
        build_encoder(f"internvl:{tmp_path / 'remote'}")
    enc = build_encoder(f"internvl:{tmp_path / 'remote'}", trust_remote_code=True)
    assert enc.dim == 16 and type(enc.backbone).__name__ == "FakeLMModel"
    ids = enc.tokenizer(TEXTS[0])["input_ids"]
    assert ids[0] == enc.tokenizer.bos_token_id
    np.testing.assert_allclose(enc.encode(TEXTS[:1])[0], _fake_lm_by_hand(weights, ids), atol=1e-5)


def test_internvl_mean_text_survives_internlm2s_misaligned_special_tokens_mask(tmp_path):
    """InternVL2.5-8B's InternLM2Tokenizer is a slow remote-code tokenizer whose own
    special-tokens mask has one entry more than its ids; mean_text reads the ids instead."""
    folder = tmp_path / "remote"
    weights = remote_code_internvl(folder)
    remote_code_tokenizer(folder)
    enc = build_encoder(f"internvl:{folder}", trust_remote_code=True)
    assert type(enc.tokenizer).__name__ == "FakeLMTokenizer" and enc.pooling == "mean_text"
    own = enc.tokenizer(TEXTS[0], return_special_tokens_mask=True)
    assert len(own["special_tokens_mask"]) == len(own["input_ids"]) + 1  # the bug, reproduced
    got = enc.encode(TEXTS, batch_size=4)  # right-padded with </s>: pads are special too
    for i, text in enumerate(TEXTS):
        ids = enc.tokenizer(text)["input_ids"]
        assert ids[0] == enc.tokenizer.bos_token_id and enc.tokenizer.eos_token_id not in ids
        np.testing.assert_allclose(got[i], _fake_lm_by_hand(weights, ids), atol=1e-5)


def test_internvl_refuses_a_checkpoint_that_is_not_internvl(bert_dir):
    with pytest.raises(FgsglError, match="not an InternVL checkpoint"):
        build_encoder(f"internvl:{bert_dir}")


# ---------------------------------------------------------------- names, folders, options


def test_unknown_encoder_lists_the_valid_names():
    with pytest.raises(FgsglError) as e:
        build_encoder("bert")
    assert "unknown encoder 'bert'" in str(e.value)
    for name in ("minilm", "hf:<path-or-id>", "internvl:<path-or-id>"):
        assert name in str(e.value)
    with pytest.raises(FgsglError, match="needs a model"):
        parse_encoder_name("hf:")
    with pytest.raises(FgsglError, match="takes no path"):
        parse_encoder_name("minilm:/x")
    assert parse_encoder_name("internvl:org/model") == ("internvl", "org/model")


def test_folder_without_weights_says_so(bert_dir, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "config.json").write_text((bert_dir / "config.json").read_text())
    with pytest.raises(FgsglError, match=r"no model weights \(no \*\.safetensors"):
        build_encoder(f"hf:{folder}")
    (folder / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(FgsglError, match=r"pickle formats \(pytorch_model\.bin\).*safetensors"):
        build_encoder(f"hf:{folder}")


def test_folder_without_config_and_missing_folder(tmp_path):
    (tmp_path / "noconfig").mkdir()
    with pytest.raises(FgsglError, match="not a Hugging Face model folder"):
        build_encoder(f"hf:{tmp_path / 'noconfig'}")
    with pytest.raises(FgsglError, match="no such model folder"):
        build_encoder(f"hf:{tmp_path / 'missing'}")


def test_weights_that_do_not_fit_the_model_are_refused(bert_dir, tmp_path):
    """A partial checkpoint would leave layers randomly initialised: refuse it."""
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "partial"
    shutil.copytree(bert_dir, folder)
    weights = load_file(str(folder / "model.safetensors"))
    save_file(
        {k: v for k, v in weights.items() if "layer.1." not in k}, str(folder / "model.safetensors")
    )
    with pytest.raises(FgsglError, match=r"lack \d+ model tensor"):
        build_encoder(f"hf:{folder}")


def test_hf_remote_code_is_refused_without_the_flag(bert_dir, tmp_path):
    folder = tmp_path / "remote"
    shutil.copytree(bert_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="mybert", auto_map={"AutoModel": "modeling_mybert.MyBert"})
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(FgsglError, match=r"remote code.*--trust-remote-code"):
        build_encoder(f"hf:{folder}")


def test_hub_id_offline_and_not_cached_says_so(tmp_path):
    with pytest.raises(FgsglError, match="not in the Hugging Face cache"):
        checkpoints.resolve_model_dir("no-org/no-model", cache_dir=tmp_path, local_files_only=True)


def test_hub_id_resolves_through_the_cache(bert_dir, tmp_path):
    """The hub cache layout: models--org--name/{refs/main, snapshots/<commit>/...}."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--tiny-org--tiny-bert"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(bert_dir, repo / "snapshots" / commit)
    found = checkpoints.resolve_model_dir(
        "tiny-org/tiny-bert", cache_dir=tmp_path, local_files_only=True
    )
    assert found == repo / "snapshots" / commit
    assert (found / "model.safetensors").is_file()


def test_device_and_dtype_are_checked(bert_dir):
    if not torch.cuda.is_available():
        with pytest.raises(FgsglError, match="no CUDA GPU"):
            build_encoder(f"hf:{bert_dir}", device="cuda")
    with pytest.raises(FgsglError, match="not a torch device"):
        build_encoder(f"hf:{bert_dir}", device="gpu0")
    with pytest.raises(FgsglError, match="dtype 'int8'"):
        build_encoder(f"hf:{bert_dir}", dtype="int8")
    enc = build_encoder(f"hf:{bert_dir}", dtype="bfloat16")
    assert enc.dtype == torch.bfloat16
    assert next(enc.backbone.parameters()).dtype == torch.bfloat16
    assert enc.encode(TEXTS).dtype == np.float32  # pooled in float32 whatever the model's dtype


@pytest.mark.gpu
def test_cuda_defaults_to_bfloat16(bert_dir):
    enc = build_encoder(f"hf:{bert_dir}")
    assert enc.device.type == "cuda" and enc.dtype == torch.bfloat16
    np.testing.assert_allclose(
        enc.encode(TEXTS), build_encoder(f"hf:{bert_dir}", device="cpu").encode(TEXTS), atol=2e-2
    )
