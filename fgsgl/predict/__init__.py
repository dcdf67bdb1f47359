"""Prediction: a trained model artifact on new videos, folders, datasets or frames.

    from fgsgl.predict import Predictor, predict
    predictor = Predictor.open(MODEL)            # preprocessing read from the artifact
    probs = predictor.probabilities(predictor.clip_frames("new.mp4")[None])
    predict(MODEL, ["videos/"], "out/")          # `fgsgl predict`: predictions.csv, summary.md

Modules: predictor (the reusable core: `Predictor`, `Preprocessing`, reading a clip as
extraction does), inputs (what an INPUT is, refusals by name), run (`predict`, the step),
report (summary.md); windows, spotting, scoring (long videos: sliding windows, segments,
scored against labelled segments).
"""

from __future__ import annotations

import importlib
from typing import Any

# Lazy (PEP 562): `fgsgl predict --help` must not load torch.
_EXPORTS = {
    "Predictor": "fgsgl.predict.predictor",
    "Preprocessing": "fgsgl.predict.predictor",
    "predict": "fgsgl.predict.run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'fgsgl.predict' has no attribute {name!r}")
