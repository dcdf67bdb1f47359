"""The FG-Text encoding step: every unique text through the frozen encoder, once.

Many clips share a description (same attributes, same text), and the class texts are few,
so the step encodes each distinct string once and maps clips onto rows. Training then reads
embeddings by clip id and never loads the text model (with InternVL2.5-8B that keeps a 7B
language model out of every training pod). The step also measures the texts' geometry
(fgsgl.text.geometry: how much FG-SA can learn beyond the class) into the metadata.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fgsgl import storage
from fgsgl.artifacts import staged_dir, write_metadata
from fgsgl.dataset import load_dataset
from fgsgl.dataset.tables import write_csv
from fgsgl.diskspace import disk_full_as_error
from fgsgl.errors import FgsglError
from fgsgl.locks import locks_output
from fgsgl.text.bank import CLIPS_CSV, EMBEDDINGS, KIND, TEXTS_CSV
from fgsgl.text.geometry import one_template_texts, text_geometry
from fgsgl.text.templates import ATTRIBUTES

log = logging.getLogger("fgsgl")


# Below this share of clips with a fine-grained text of their own, the artifact holds the
# class texts only (a variant that needs T_fg is refused), rather than a T_fg that is the
# class text for most clips.
MIN_FG_SHARE = 0.5


def text_tables(
    clip_ids: Sequence[str],
    labels: Sequence[int],
    fg_texts: Sequence[str | None] | None,
    class_texts: Sequence[str],
    fg_sources: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(texts, clips): one row per unique fine-grained text (first appearance first), then one
    per class by id; each clip points at its fine-grained row and its class row. A clip
    whose fine-grained text is None points at its class row instead; with no fine-grained
    texts at all (`fg_texts` None) every fg_row is -1."""
    given = [t for t in fg_texts if isinstance(t, str)] if fg_texts is not None else []
    unique_fg = list(dict.fromkeys(given))
    row_of = {t: i for i, t in enumerate(unique_fg)}
    n_fg, n_classes = len(unique_fg), len(class_texts)
    texts = pd.DataFrame(
        {
            "row": np.arange(n_fg + n_classes, dtype=np.int64),
            "kind": ["fg"] * n_fg + ["class"] * n_classes,
            "class_id": np.array([-1] * n_fg + list(range(n_classes)), dtype=np.int64),
            "text": unique_fg + list(class_texts),
        }
    )
    class_row = n_fg + np.asarray(labels, dtype=np.int64)
    if fg_texts is None:
        fg_row = np.full(len(class_row), -1, dtype=np.int64)
    else:
        fg_row = np.array(
            [
                row_of[t] if isinstance(t, str) else c
                for t, c in zip(fg_texts, class_row, strict=True)
            ],
            dtype=np.int64,
        )
    clips = pd.DataFrame(
        {
            "clip_id": list(clip_ids),
            "label": np.asarray(labels, dtype=np.int64),
            "fg_row": fg_row,
            "class_row": class_row,
            "fg_source": list(fg_sources) if fg_sources is not None else "annotated",
        }
    )
    return texts, clips


def clip_fg_texts(
    ds: Any, attributes: str | None, *, paraphrase: bool = False
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """Per clip (manifest order): clip_id, the four attributes, fg_text (the sentence, or
    None), fg_source (annotated | derived | class | mixed | none); and the attributes
    artifact's counts when one was given. Without one the manifest's own attributes are
    the only source."""
    from fgsgl.text.templates import fg_text

    if attributes is None:
        m = ds.manifest
        values = m[list(ATTRIBUTES)].astype(object)
        table = values.where(values.notna(), None)
        table.insert(0, "clip_id", m["clip_id"].astype(str))
        table["fg_text"] = list(ds.annotated_fg_texts(paraphrase=paraphrase))
        table["fg_source"] = ["annotated" if t is not None else "none" for t in table["fg_text"]]
        return table.reset_index(drop=True), None
    from fgsgl.attributes.artifact import has_fg_text, load_attributes

    meta, art = load_attributes(attributes)
    if meta.get("dataset_fingerprint") != ds.fingerprint():
        raise FgsglError(
            f"{attributes}: attributes of another dataset (fingerprint "
            f"{str(meta.get('dataset_fingerprint'))[:12]}, this one {ds.fingerprint()[:12]})"
        )
    art = art.set_index("clip_id").reindex([str(c) for c in ds.manifest["clip_id"]])
    if art[ATTRIBUTES[0]].isna().any():
        raise FgsglError(f"{attributes}: has no row for some clips of the dataset")
    usable = has_fg_text(art.reset_index())
    rows = []
    for (clip_id, row), ok in zip(art.iterrows(), usable, strict=True):
        values = {a: row[a] or None for a in ATTRIBUTES}
        if row["fg_text"]:
            text, source = row["fg_text"], "annotated"
        elif ok:
            text = fg_text(values, paraphrase=paraphrase)
            kinds = {row[f"{a}_source"] for a in ATTRIBUTES}
            source = kinds.pop() if len(kinds) == 1 else "mixed"
        else:
            text, source = None, "none"
        rows.append({"clip_id": clip_id, **values, "fg_text": text, "fg_source": source})
    return pd.DataFrame(rows), meta.get("counts")


def embed_rows(encoder: Any, texts: Sequence[str], *, batch_size: int) -> tuple[np.ndarray, int]:
    """Embeddings for every row; a string that appears in several rows is encoded once."""
    distinct = list(dict.fromkeys(texts))
    where = {t: i for i, t in enumerate(distinct)}
    vectors = encoder.encode(distinct, batch_size=batch_size)
    return vectors[[where[t] for t in texts]], len(distinct)


def geometry_of(
    encoder: Any,
    texts: pd.DataFrame,
    clips: pd.DataFrame,
    embeddings: np.ndarray,
    one_template: Sequence[str] | None,
    *,
    batch_size: int,
) -> tuple[dict[str, Any], int]:
    """(text geometry, extra texts encoded). The one-template texts (one per clip, or None)
    reuse the rows' embeddings where a row has the same text; only the others are encoded,
    and they are not rows of the artifact."""
    fg_rows = clips["fg_row"].to_numpy()
    labels = clips["label"].to_numpy()
    classes = embeddings[texts.loc[texts["kind"] == "class", "row"].to_numpy()]
    one = None
    extra: list[str] = []
    if one_template is not None:
        where = {t: i for i, t in enumerate(texts["text"])}
        extra = [t for t in dict.fromkeys(one_template) if t not in where]
        where.update({t: len(embeddings) + k for k, t in enumerate(extra)})
        vectors = encoder.encode(extra, batch_size=batch_size, progress=False)
        one = np.concatenate([embeddings, vectors])[[where[t] for t in one_template]]
    geometry = text_geometry(embeddings[fg_rows], labels, classes, fg_rows, one)
    return geometry, len(extra)


FG_WAYS = (
    "annotations: `fgsgl import ... --fg-annotations CSV` (clip_id, initiator, receiver, "
    "direction, motion)",
    "derived attributes: keypoints for the clips (`--skeletons` on import, or `fgsgl pose`), "
    "then fg_attributes=auto or derived (`fgsgl attributes`)",
    "the annotation workflow: people label or confirm the four attributes per clip (the "
    "paper's way; e.g. in Label Studio, starting from the derived ones) and the CSV is "
    "imported with --fg-annotations",
)


def fg_missing_reason(with_text: int, clips: int, attributes: str | None) -> str:
    """Why an artifact has no fine-grained texts, and the three ways to get them."""
    where = "the attributes artifact" if attributes else "the manifest (no attributes artifact)"
    return (
        f"{with_text} of {clips} clips have a fine-grained text from {where}, under "
        f"{MIN_FG_SHARE:.0%}; to get them: " + "; ".join(FG_WAYS)
    )


def artifact_bytes(texts: pd.DataFrame, clips: pd.DataFrame, embeddings: np.ndarray) -> int:
    """About the size of the artifact on disk: the embeddings and the two tables."""
    text_bytes = int(texts["text"].str.len().sum()) + 32 * len(texts)
    clip_bytes = int(clips["clip_id"].astype(str).str.len().sum()) + 48 * len(clips)
    return int(embeddings.nbytes) + text_bytes + clip_bytes + 4096  # + metadata.json


def _check_out(out: str) -> Path:
    if storage.is_remote(out):
        raise FgsglError(
            f"{out}: the texts artifact is written to a local folder (KFP mounts artifacts "
            "as local paths); copy it to the store afterwards"
        )
    return Path(out)


@locks_output("out")
def encode_texts(
    dataset: str,
    out: str,
    *,
    encoder: str = "minilm",
    pooling: str | None = None,
    batch_size: int = 64,
    device: str | None = None,
    dtype: str | None = None,
    trust_remote_code: bool = False,
    weights: str | None = None,
    attributes: str | None = None,
    paraphrase: bool = False,
) -> dict:
    """Encode the dataset's fine-grained and class texts into a texts artifact at `out`.

    Returns a small summary (counts, dimension, timing). Bad options, a dataset without
    fine-grained texts and a model that cannot be loaded all fail before `out` is touched.
    `weights`: a fetched weights artifact of the encoder's checkpoint (fgsgl.weights).
    `attributes`: an attributes artifact (fgsgl.attributes.artifact) to take each clip's
    attributes from, else the manifest's own; `paraphrase`: one of FG_TEMPLATES per
    attribute set instead of the first. A dataset where under MIN_FG_SHARE of the clips have
    a fine-grained text gives an artifact of class texts only (`fine_grained` false).
    """
    from fgsgl.runtime.cpus import configure_torch_threads
    from fgsgl.text.encoders import build_encoder, check_options  # torch: only when run

    configure_torch_threads()
    start = time.perf_counter()
    out_path = _check_out(str(out))
    check_options(encoder, pooling=pooling, dtype=dtype)
    if batch_size < 1:
        raise FgsglError(f"batch size must be at least 1, not {batch_size}")
    ds = load_dataset(dataset)
    table, attribute_counts = clip_fg_texts(ds, attributes, paraphrase=paraphrase)
    labels = ds.manifest["label"].to_numpy()
    if (labels < 0).any():  # an unlabelled split: no class text to point at, never trained on
        log.info("%d clips without a label have no texts", int((labels < 0).sum()))
        table, labels = table[labels >= 0].reset_index(drop=True), labels[labels >= 0]
    own = table["fg_text"].notna()
    fine = bool(own.mean() >= MIN_FG_SHARE) if len(table) else False
    fg_why = None if fine else fg_missing_reason(int(own.sum()), len(table), attributes)
    sources = [
        s if isinstance(t, str) else "class text"
        for s, t in zip(table["fg_source"], table["fg_text"], strict=True)
    ]
    texts, clips = text_tables(
        list(table["clip_id"].astype(str)),
        list(labels),
        list(table["fg_text"]) if fine else None,
        ds.class_texts,
        sources if fine else ["none"] * len(table),
    )
    n_fg = int((texts["kind"] == "fg").sum())
    if fine:
        rest = " (the rest take their class text)" if not own.all() else ""
        log.info(
            "%d unique fine-grained texts for %d of %d clips%s, and %d class texts",
            n_fg,
            int(own.sum()),
            len(clips),
            rest,
            ds.num_classes,
        )
    else:
        log.warning("class texts only: %s", fg_why)
    model = build_encoder(
        encoder,
        pooling=pooling,
        device=device,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        weights=weights,
    )
    t0 = time.perf_counter()
    embeddings, encoded = embed_rows(model, list(texts["text"]), batch_size=batch_size)
    encode_s = time.perf_counter() - t0
    if fine:
        # the one-template spread needs every clip's text to come from its four attributes
        one = one_template_texts(table[list(ATTRIBUTES)]) if own.all() else None
        geometry, extra = geometry_of(model, texts, clips, embeddings, one, batch_size=batch_size)
    else:
        geometry, extra = None, 0
    counts = {
        "clips": len(clips),
        "unique_fg": n_fg,
        "classes": ds.num_classes,
        "encoded": encoded,
        "geometry_encoded": extra,
    }
    fingerprint = ds.fingerprint()
    full_disk = disk_full_as_error(
        out_path,
        needed=artifact_bytes(texts, clips, embeddings),
        then="Nothing was written (an artifact already there is kept): free space and rerun",
    )
    with full_disk, staged_dir(out_path) as tmp:
        write_csv(texts, tmp / TEXTS_CSV)
        write_csv(clips, tmp / CLIPS_CSV)
        np.save(tmp / EMBEDDINGS, embeddings)
        write_metadata(
            tmp,
            KIND,
            **model.describe(),
            normalization="l2",
            dataset=str(dataset),
            dataset_fingerprint=fingerprint,
            num_classes=ds.num_classes,
            class_names=ds.class_names,
            counts=counts,
            batch_size=batch_size,
            geometry=geometry,
            fine_grained=fine,
            fine_grained_missing=fg_why,
            paraphrase=paraphrase,
            fg_sources={k: int(v) for k, v in clips["fg_source"].value_counts().items()},
            attributes=None if attributes is None else str(attributes),
            attribute_counts=attribute_counts,
        )
    seconds = time.perf_counter() - start
    summary = {
        "out": str(out_path),
        "encoder": model.name,
        "encoder_revision": model.revision,
        "encoder_commit": model.provenance.get("commit"),
        "dim": model.dim,
        "rows": len(texts),
        **counts,
        "dedup_ratio": round(len(clips) / max(n_fg, 1), 3),
        "encode_seconds": round(encode_s, 3),
        "texts_per_s": round(encoded / max(encode_s, 1e-9), 1),
        "seconds": round(seconds, 3),
        "dataset_fingerprint": fingerprint,
        "pooling": model.pooling,
        "geometry": geometry,
        "fine_grained": fine,
        "fine_grained_missing": fg_why,
        "fg_sources": {k: int(v) for k, v in clips["fg_source"].value_counts().items()},
    }
    log.info(
        "wrote %s: %d rows x %d (%s), %d texts encoded in %.1f s (%.0f texts/s)",
        out_path,
        len(texts),
        model.dim,
        model.name,
        encoded,
        encode_s,
        summary["texts_per_s"],
    )
    return summary
