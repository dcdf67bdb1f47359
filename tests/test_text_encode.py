"""The encode-text step and its artifact: one row per unique text, clips mapped by id, the
class view derived from the same rows, deterministic, and nothing written on bad input."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from text_helpers import CLASSES, synthmg_like_dataset, tiny_bert

from fgsgl.cli import main
from fgsgl.dataset import load_dataset, write_tables
from fgsgl.errors import FgsglError
from fgsgl.text.bank import load_texts
from fgsgl.text.encode import encode_texts, text_tables
from fgsgl.text.encoders import build_encoder
from fgsgl.text.templates import ATTRIBUTES, FG_TEMPLATES, fg_text


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return f"hf:{tiny_bert(tmp_path_factory.mktemp('bert') / 'model')}"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return synthmg_like_dataset(tmp_path_factory.mktemp("ds") / "synthmg", clips=24)


@pytest.fixture(scope="module")
def artifact(dataset, bert, tmp_path_factory):
    out = tmp_path_factory.mktemp("texts") / "texts"
    summary = encode_texts(str(dataset), str(out), encoder=bert, batch_size=4)
    return out, summary


@pytest.fixture(scope="module")
def paraphrased(dataset, bert, tmp_path_factory):
    out = tmp_path_factory.mktemp("texts") / "paraphrased"
    summary = encode_texts(str(dataset), str(out), encoder=bert, batch_size=4, paraphrase=True)
    return out, summary


def test_text_tables_by_hand():
    texts, clips = text_tables(
        ["a", "b", "c", "d"], [1, 0, 1, 1], ["x", "y", "x", "x"], ["class zero", "class one"]
    )
    assert texts.to_dict("list") == {
        "row": [0, 1, 2, 3],
        "kind": ["fg", "fg", "class", "class"],
        "class_id": [-1, -1, 0, 1],
        "text": ["x", "y", "class zero", "class one"],
    }
    assert clips.to_dict("list") == {
        "clip_id": ["a", "b", "c", "d"],
        "label": [1, 0, 1, 1],
        "fg_row": [0, 1, 0, 0],
        "class_row": [3, 2, 3, 3],
        "fg_source": ["annotated"] * 4,
    }


def test_identical_texts_map_to_one_row(artifact, dataset):
    out, summary = artifact
    bank = load_texts(out)
    fg = load_dataset(dataset, need_fg_text=True).fg_texts()
    # 3 classes x 2 hands: 6 distinct descriptions among 24 clips, plus 3 class texts
    assert summary["clips"] == 24 and summary["unique_fg"] == 6 and summary["classes"] == 3
    assert summary["rows"] == 9 and summary["encoded"] == 9 and summary["dedup_ratio"] == 4.0
    assert bank.texts["text"].is_unique
    rows = bank.rows(fg.index, "fine")
    assert [bank.text(r) for r in rows] == list(fg)
    for text in set(fg):
        assert len(set(rows[(fg == text).to_numpy()])) == 1


def test_artifact_round_trips(artifact, dataset, bert):
    out, summary = artifact
    bank = load_texts(out)
    ds = load_dataset(dataset)
    assert bank.encoder == bert and bank.dim == 32 and bank.num_classes == 3
    assert bank.dataset_fingerprint == ds.fingerprint() == summary["dataset_fingerprint"]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["kind"] == "fgsgl.texts" and meta["normalization"] == "l2"
    assert meta["pooling"] == "mean" and meta["dim"] == 32 and meta["dtype"] == "float32"
    assert {k: meta["counts"][k] for k in ("clips", "unique_fg", "classes", "encoded")} == {
        "clips": 24,
        "unique_fg": 6,
        "classes": 3,
        "encoded": 9,
    }
    assert meta["encoder_revision"] == summary["encoder_revision"]
    assert list(meta["encoder_files"]) == ["model.safetensors"]
    assert bank.embeddings.dtype == np.float32 and bank.embeddings.shape == (9, 32)
    np.testing.assert_allclose(np.linalg.norm(bank.embeddings, axis=1), 1.0, atol=1e-6)
    expected = build_encoder(bert).encode(list(bank.texts["text"]))
    np.testing.assert_allclose(bank.embeddings, expected, atol=1e-6)
    assert list(bank.clips["clip_id"][:2]) == ["0000", "0001"]  # ids stay strings


def _one_template(manifest: pd.DataFrame) -> list[str]:
    """Every clip's attributes through FG_TEMPLATES[0], by hand."""
    return [
        FG_TEMPLATES[0].format(
            initiator=f"the {r.initiator}",
            receiver=f"the {r.receiver}",
            direction=r.direction,
            motion=r.motion,
        )
        for r in manifest.itertuples()
    ]


def test_geometry_by_hand(paraphrased, dataset, bert):
    """Every number from the artifact's own embeddings, pair by pair; the one-template
    texts encoded here by hand with the same encoder (paraphrases on, so they differ)."""
    out, summary = paraphrased
    bank = load_texts(out)
    g = bank.meta["geometry"]
    assert summary["geometry"] == g and summary["pooling"] == bank.meta["pooling"] == "mean"
    m = load_dataset(dataset).manifest
    ids, labels = list(m["clip_id"]), m["label"].to_numpy()
    rows = bank.rows(ids)
    fg = bank.embeddings[rows].astype(np.float64)
    one_texts = _one_template(m)
    assert one_texts[0] == fg_text(dict(m.loc[0, list(ATTRIBUTES)]), template=0)
    one = build_encoder(bert).encode(one_texts).astype(np.float64)
    same, distinct, different, same_one = [], [], [], []
    for i, j in itertools.combinations(range(len(ids)), 2):
        if labels[i] == labels[j]:
            same.append(fg[i] @ fg[j])
            same_one.append(one[i] @ one[j])
            if rows[i] != rows[j]:
                distinct.append(fg[i] @ fg[j])
        else:
            different.append(fg[i] @ fg[j])
    classes = bank.class_embeddings()[labels]
    assert g["same_class_cos"] == pytest.approx(np.mean(same), abs=1e-5)
    assert g["same_class_distinct_cos"] == pytest.approx(np.mean(distinct), abs=1e-5)
    assert g["different_class_cos"] == pytest.approx(np.mean(different), abs=1e-5)
    assert g["fg_to_class_cos"] == pytest.approx(np.mean((fg * classes).sum(1)), abs=1e-5)
    # 2 hands per class: 2 distinct texts in each of the 3 classes
    assert g["unique_fg_per_class"] == {"min": 2, "mean": 2.0, "max": 2, "per_class": [2, 2, 2]}
    spread, spread_one = 1 - np.mean(same), 1 - np.mean(same_one)
    assert g["within_class_spread"] == pytest.approx(spread, abs=1e-5)
    assert g["within_class_spread_one_template"] == pytest.approx(spread_one, abs=1e-5)
    assert g["template_share"] == pytest.approx((spread - spread_one) / spread, abs=1e-4)
    # only the one-template texts that are not rows already were encoded, and not written
    extra = set(one_texts) - set(bank.texts["text"])
    assert bank.meta["counts"]["geometry_encoded"] == len(extra) > 0
    assert not extra & set(bank.texts["text"])


def test_one_sentence_per_attribute_set_by_default(artifact, paraphrased):
    """The default writes FG_TEMPLATES[0] for every clip: the template's share of the
    within-class spread is zero and nothing beyond the rows is encoded for it."""
    default = load_texts(artifact[0])
    para = load_texts(paraphrased[0])
    assert default.meta["paraphrase"] is False and para.meta["paraphrase"] is True
    g = default.meta["geometry"]
    assert g["template_share"] == pytest.approx(0.0, abs=1e-6)
    assert g["within_class_spread"] == pytest.approx(g["within_class_spread_one_template"])
    assert default.meta["counts"]["geometry_encoded"] == 0
    # the same attribute sets: the one-template spread is the same in both artifacts
    one = para.meta["geometry"]["within_class_spread_one_template"]
    assert g["within_class_spread"] == pytest.approx(one, abs=1e-5)
    assert para.meta["geometry"]["within_class_spread"] > g["within_class_spread"]


def test_geometry_of_hand_written_texts_has_no_template_share(bert, tmp_path, capsys):
    manifest = pd.DataFrame(
        {
            "clip_id": ["a", "b", "c", "d"],
            "video": ["a.mp4", "b.mp4", "c.mp4", "d.mp4"],
            "label": [0, 0, 1, 2],
            "split": ["train", "val", "test", "train"],
            "fg_text": ["A person rubs an eye.", "A person rubs both eyes.", "NA", "NA"],
        }
    )
    write_tables(tmp_path / "ds", manifest, CLASSES)
    out = tmp_path / "out"
    assert main(["encode-text", str(tmp_path / "ds"), str(out), "--encoder", bert]) == 0
    g = load_texts(out).meta["geometry"]
    assert g["template_share"] is None and g["within_class_spread_one_template"] is None
    assert g["within_class_spread"] > 0 and g["unique_fg_per_class"]["per_class"] == [2, 1, 1]
    assert load_texts(out).meta["counts"]["geometry_encoded"] == 0
    printed = capsys.readouterr().out
    assert "not computable (the texts do not all come from the four attributes)" in printed


def test_class_view_is_derived_from_the_same_rows(artifact, dataset):
    out, _ = artifact
    bank = load_texts(out)
    ds = load_dataset(dataset)
    ids = list(ds.manifest["clip_id"])
    rows = bank.rows(ids, "class")
    assert [bank.text(r) for r in rows] == [ds.class_texts[label] for label in ds.manifest["label"]]
    classes = bank.class_embeddings()
    assert classes.shape == (3, 32)
    np.testing.assert_array_equal(classes[ds.manifest["label"].to_numpy()], bank.embeddings[rows])
    assert bank.texts.loc[bank.class_rows(), "text"].tolist() == ds.class_texts
    picked = ["0005", "0002"]
    assert bank.rows(picked, "fine").tolist() == bank.rows(ids, "fine")[[5, 2]].tolist()


def test_rows_refuse_unknown_clips_and_granularities(artifact):
    bank = load_texts(artifact[0])
    with pytest.raises(FgsglError, match=r"2 clip id\(s\) have no text here: nope, 9999"):
        bank.rows(["0001", "nope", "9999"])
    with pytest.raises(FgsglError, match="granularity 'coarse'"):
        bank.rows(["0001"], "coarse")


def test_same_input_same_bytes(artifact, dataset, bert, tmp_path):
    out, _ = artifact
    again = tmp_path / "again"
    encode_texts(str(dataset), str(again), encoder=bert, batch_size=4)
    for name in ("texts.csv", "clips.csv", "embeddings.npy"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    # another batch size pads differently: the same values, up to float rounding (~3e-8)
    other = tmp_path / "other"
    encode_texts(str(dataset), str(other), encoder=bert, batch_size=7)
    for name in ("texts.csv", "clips.csv"):
        assert (other / name).read_bytes() == (out / name).read_bytes(), name
    np.testing.assert_allclose(
        np.load(other / "embeddings.npy"), np.load(out / "embeddings.npy"), atol=1e-6
    )


def test_a_text_shared_by_a_clip_and_a_class_is_encoded_once(bert, tmp_path):
    manifest = pd.DataFrame(
        {
            "clip_id": ["a", "b"],
            "video": ["a.mp4", "b.mp4"],
            "label": [0, 1],
            "split": ["train", "test"],
            "fg_text": [CLASSES["description"][0], "NA"],  # "NA" is a text, not a missing value
        }
    )
    write_tables(tmp_path / "ds", manifest, CLASSES)
    summary = encode_texts(str(tmp_path / "ds"), str(tmp_path / "out"), encoder=bert)
    assert summary["rows"] == 5 and summary["encoded"] == 4
    bank = load_texts(tmp_path / "out")
    fine, cls = bank.rows(["a"], "fine")[0], bank.rows(["a"], "class")[0]
    assert fine != cls
    np.testing.assert_array_equal(bank.embeddings[fine], bank.embeddings[cls])
    assert bank.text(bank.rows(["b"])[0]) == "NA"


def test_too_few_fine_grained_texts_give_class_texts_only_and_say_how_to_get_them(bert, tmp_path):
    """One clip of three has all four attributes (under MIN_FG_SHARE): the artifact holds
    the class texts only, says so and why; the variants that never read T_fg can use it."""
    manifest = pd.DataFrame(
        {
            "clip_id": ["a", "b", "c"],
            "video": ["a.mp4", "b.mp4", "c.mp4"],
            "label": [0, 1, 2],
            "split": ["train", "val", "test"],
            "initiator": ["right hand", "left hand", "right hand"],
            "receiver": ["neck", None, "mouth"],
            "direction": ["upward", "upward", "upward"],
            "motion": ["rubs it", "rubs it", None],
        }
    )
    write_tables(tmp_path / "ds", manifest, CLASSES)
    summary = encode_texts(str(tmp_path / "ds"), str(tmp_path / "out"), encoder=bert)
    bank = load_texts(tmp_path / "out")
    assert summary["fine_grained"] is False and bank.fine_grained is False
    why = bank.meta["fine_grained_missing"]
    assert why.startswith("1 of 3 clips have a fine-grained text") and "--fg-annotations" in why
    assert "fgsgl pose" in why and "the annotation workflow" in why
    assert bank.texts["kind"].tolist() == ["class"] * 3 and bank.meta["geometry"] is None
    assert bank.clips["fg_row"].tolist() == [-1, -1, -1]
    assert bank.rows(["a", "b", "c"], "class").tolist() == [0, 1, 2]

    # two of three: fine-grained, and the clip without attributes takes its class text
    manifest.loc[1, "receiver"] = "neck"
    write_tables(tmp_path / "ds2", manifest, CLASSES)
    encode_texts(str(tmp_path / "ds2"), str(tmp_path / "out2"), encoder=bert)
    bank = load_texts(tmp_path / "out2")
    assert bank.fine_grained is True
    clips = bank.clips.set_index("clip_id")
    assert clips.loc["c", "fg_row"] == clips.loc["c", "class_row"]
    assert clips["fg_source"].tolist() == ["annotated", "annotated", "class text"]
    assert bank.meta["fg_sources"] == {"annotated": 2, "class text": 1}


def test_bad_options_fail_before_anything_is_read(tmp_path):
    missing = str(tmp_path / "no-dataset")
    with pytest.raises(FgsglError, match="unknown encoder"):
        encode_texts(missing, str(tmp_path / "out"), encoder="word2vec")
    with pytest.raises(FgsglError, match="batch size"):
        encode_texts(missing, str(tmp_path / "out"), batch_size=0)
    with pytest.raises(FgsglError, match="local folder"):
        encode_texts(missing, "gs://bucket/texts")
    with pytest.raises(FgsglError, match="'internvl' takes --pooling"):
        encode_texts(missing, str(tmp_path / "out"), encoder="internvl:org/m", pooling="cls")
    assert not (tmp_path / "out").exists()


def test_damaged_artifact_is_refused(artifact, tmp_path):
    out = tmp_path / "damaged"
    shutil.copytree(artifact[0], out)
    np.save(out / "embeddings.npy", np.ones((3, 32), dtype=np.float32))
    with pytest.raises(FgsglError) as e:
        load_texts(out)
    assert "shape (3, 32)" in str(e.value) and "not L2-normalised" not in str(e.value)
    (out / "clips.csv").unlink()
    with pytest.raises(FgsglError, match=r"clips\.csv is missing"):
        load_texts(out)
    with pytest.raises(FgsglError, match=r"expected a fgsgl\.texts artifact|no metadata\.json"):
        load_texts(tmp_path)


def test_cli_writes_the_artifact(dataset, bert, tmp_path, capsys):
    out = tmp_path / "cli"
    assert (
        main(["encode-text", str(dataset), str(out), "--encoder", bert, "--batch-size", "5"]) == 0
    )
    printed = capsys.readouterr().out
    assert f"wrote {out}: 24 clips -> 6 unique fine-grained texts + 3 class texts, 32-d" in printed
    bank = load_texts(out)
    assert bank.embeddings.shape == (9, 32)
    g = bank.meta["geometry"]
    assert (
        f"same class {g['same_class_cos']:.3f} (different texts "
        f"{g['same_class_distinct_cos']:.3f}), different classes "
        f"{g['different_class_cos']:.3f}, T_fg to its class text {g['fg_to_class_cos']:.3f}"
    ) in printed
    assert "unique fine-grained texts per class: min 2 / mean 2.0 / max 2" in printed
    assert f"paraphrase templates make {g['template_share']:.0%} of the within-class" in printed


def test_cli_pooling_is_checked_and_recorded(dataset, bert, tmp_path, capsys):
    out = tmp_path / "last"
    assert (
        main(["encode-text", str(dataset), str(out), "--encoder", bert, "--pooling", "last"]) == 0
    )
    assert load_texts(out).meta["pooling"] == "last"
    capsys.readouterr()
    assert (
        main(["encode-text", str(tmp_path / "none"), str(tmp_path / "o"), "--pooling", "cls"]) == 1
    )
    err = capsys.readouterr().err
    assert "'minilm' takes --pooling mean, not cls" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_cli_errors_are_one_clear_message(dataset, tmp_path, capsys):
    assert main(["encode-text", str(dataset), str(tmp_path / "o"), "--encoder", "bert"]) == 1
    err = capsys.readouterr().err
    assert "unknown encoder 'bert'" in err and "internvl:<path-or-id>" in err
    assert "Traceback" not in err
    with pytest.raises(SystemExit) as e:
        main(["encode-text", str(dataset), str(tmp_path / "o"), "--pooling", "max"])
    assert e.value.code == 2


def test_cli_help_names_the_encoders(capsys):
    with pytest.raises(SystemExit):
        main(["encode-text", "--help"])
    text = capsys.readouterr().out
    for word in ("minilm", "hf:<path-or-id>", "internvl:<path-or-id>", "--trust-remote-code"):
        assert word in text


def test_minilm_texts_find_their_own_class(dataset, tmp_path):
    """With the real MiniLM, each clip's description is nearest to its own class text."""
    encode_texts(str(dataset), str(tmp_path / "m"))
    bank = load_texts(tmp_path / "m")
    assert bank.encoder == "minilm" and bank.dim == 384
    ds = load_dataset(dataset)
    ids = list(ds.manifest["clip_id"])
    sims = bank.embeddings[bank.rows(ids, "fine")] @ bank.class_embeddings().T
    assert (sims.argmax(1) == ds.manifest["label"].to_numpy()).all()
