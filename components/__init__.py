"""KFP components, one per step (shipped as fgsgl.components).

Each is a lightweight Python component whose base image is this project's CPU or GPU image
(see `images`), with typed artifacts in and out; its signature and docstring are its whole
interface and its body calls the fgsgl library. The library does the work; nothing here
computes.
"""

from fgsgl.components.encode_text import encode_text
from fgsgl.components.evaluate import evaluate
from fgsgl.components.extract import extract_frames, merge_frames
from fgsgl.components.fetch import fetch_backbone, fetch_text_encoder
from fgsgl.components.train import train_stage1, train_stage2

# component function name -> component (what `fgsgl rerun STEP` looks up)
STEPS = {
    c.name.replace("-", "_"): c
    for c in (
        fetch_backbone,
        fetch_text_encoder,
        extract_frames,
        merge_frames,
        encode_text,
        train_stage1,
        train_stage2,
        evaluate,
    )
}

__all__ = [
    "STEPS",
    "encode_text",
    "evaluate",
    "extract_frames",
    "fetch_backbone",
    "fetch_text_encoder",
    "merge_frames",
    "train_stage1",
    "train_stage2",
]
