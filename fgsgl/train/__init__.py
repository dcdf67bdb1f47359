"""Training: the two FG-SGL stages (and every ablation) from frames + texts to a model.

    from fgsgl.train import load_model, train
    train(frames, texts, out, stage=1)                      # -> summary dict
    train(frames, texts, out2, stage=2, init=out)
    model, config = load_model(out2)                        # the artifact, rebuilt

Modules: config (the training config), stages (the stage/ablation table), data (clips
from the frames artifact), optim (AdamW + schedule), trainer (the loop), checkpoint
(epoch-end state and resume), deepspeed_engine (--deepspeed), artifact (the model
artifact), events (the TensorBoard curves), run (`train`, which ties them together).
"""

from __future__ import annotations

import importlib
from typing import Any

# Lazy (PEP 562): `fgsgl.train.config` is read by commands that never train (compile,
# submit --set), and importing the trainer would load torch for them.
_EXPORTS = {"load_model": "fgsgl.train.artifact", "train": "fgsgl.train.run"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'fgsgl.train' has no attribute {name!r}")
