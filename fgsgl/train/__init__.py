"""Training: the two FG-SGL stages (and every ablation) from frames + texts to a model.

    from fgsgl.train import load_model, train
    train(frames, texts, out, stage=1)                      # -> summary dict
    train(frames, texts, out2, stage=2, init=out)
    model, config = load_model(out2)                        # the artifact, rebuilt

Modules: config (the training config), stages (the stage/ablation table), data (clips
from the frames artifact), optim (AdamW + schedule), trainer (the loop), checkpoint
(epoch-end state and resume), deepspeed_engine (--deepspeed), artifact (the model
artifact), run (`train`, which ties them together).
"""

from fgsgl.train.artifact import load_model
from fgsgl.train.run import train

__all__ = ["load_model", "train"]
