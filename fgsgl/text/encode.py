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
from fgsgl.errors import FgsglError
from fgsgl.text.bank import CLIPS_CSV, EMBEDDINGS, KIND, TEXTS_CSV
from fgsgl.text.geometry import one_template_texts, text_geometry

log = logging.getLogger("fgsgl")


def text_tables(
    clip_ids: Sequence[str],
    labels: Sequence[int],
    fg_texts: Sequence[str],
    class_texts: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(texts, clips): one row per unique fine-grained text (first appearance first), then one
    per class by id; each clip points at its fine-grained row and its class row."""
    unique_fg = list(dict.fromkeys(fg_texts))
    fg_row = {t: i for i, t in enumerate(unique_fg)}
    n_fg, n_classes = len(unique_fg), len(class_texts)
    texts = pd.DataFrame(
        {
            "row": np.arange(n_fg + n_classes, dtype=np.int64),
            "kind": ["fg"] * n_fg + ["class"] * n_classes,
            "class_id": np.array([-1] * n_fg + list(range(n_classes)), dtype=np.int64),
            "text": unique_fg + list(class_texts),
        }
    )
    clips = pd.DataFrame(
        {
            "clip_id": list(clip_ids),
            "label": np.asarray(labels, dtype=np.int64),
            "fg_row": np.array([fg_row[t] for t in fg_texts], dtype=np.int64),
            "class_row": n_fg + np.asarray(labels, dtype=np.int64),
        }
    )
    return texts, clips


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


def _check_out(out: str) -> Path:
    if storage.is_gcs(out):
        raise FgsglError(
            f"{out}: the texts artifact is written to a local folder (KFP mounts artifacts "
            "as local paths); copy it to gs:// afterwards"
        )
    return Path(out)


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
) -> dict:
    """Encode the dataset's fine-grained and class texts into a texts artifact at `out`.

    Returns a small summary (counts, dimension, timing). Bad options, a dataset without
    fine-grained texts and a model that cannot be loaded all fail before `out` is touched.
    `weights`: a fetched weights artifact of the encoder's checkpoint (fgsgl.weights).
    """
    from fgsgl.runtime import configure_torch_threads
    from fgsgl.text.encoders import build_encoder, check_options  # torch: only when run

    configure_torch_threads()
    start = time.perf_counter()
    out_path = _check_out(str(out))
    check_options(encoder, pooling=pooling, dtype=dtype)
    if batch_size < 1:
        raise FgsglError(f"batch size must be at least 1, not {batch_size}")
    ds = load_dataset(dataset, need_fg_text=True)
    fg = ds.fg_texts()
    texts, clips = text_tables(
        [str(c) for c in fg.index], list(ds.manifest["label"]), list(fg), ds.class_texts
    )
    n_fg = int((texts["kind"] == "fg").sum())
    log.info(
        "%d unique fine-grained texts out of %d clips, and %d class texts",
        n_fg,
        len(clips),
        ds.num_classes,
    )
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
    geometry, extra = geometry_of(
        model, texts, clips, embeddings, one_template_texts(ds.manifest), batch_size=batch_size
    )
    counts = {
        "clips": len(clips),
        "unique_fg": n_fg,
        "classes": ds.num_classes,
        "encoded": encoded,
        "geometry_encoded": extra,
    }
    fingerprint = ds.fingerprint()
    with staged_dir(out_path) as tmp:
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
