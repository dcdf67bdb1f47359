"""KFP components, one per step (shipped as fgsgl.components).

Each is a lightweight Python component whose base image is this project's CPU or GPU image
(see `images`), with typed artifacts in and out; its signature and docstring are its whole
interface and its body calls the fgsgl library. The library does the work; nothing here
computes.
"""

from fgsgl.components.attributes import derive_attributes
from fgsgl.components.encode_text import encode_text
from fgsgl.components.evaluate import evaluate
from fgsgl.components.extract import extract_frames, merge_frames
from fgsgl.components.fetch import fetch_backbone, fetch_text_encoder
from fgsgl.components.one_stage import start_one_stage
from fgsgl.components.pose import estimate_pose
from fgsgl.components.predict import predict_videos
from fgsgl.components.train import train_stage1, train_stage2

# component function name -> component: the training pipeline's tasks (what `fgsgl rerun
# STEP` looks up); estimate_pose runs before it, once per dataset (components/pose.py), and
# predict_videos after it, in the batch-prediction pipeline (pipelines/predict.py)
STEPS = {
    c.name.replace("-", "_"): c
    for c in (
        fetch_backbone,
        fetch_text_encoder,
        extract_frames,
        merge_frames,
        derive_attributes,
        encode_text,
        start_one_stage,
        train_stage1,
        train_stage2,
        evaluate,
    )
}

__all__ = [
    "STEPS",
    "derive_attributes",
    "encode_text",
    "estimate_pose",
    "evaluate",
    "extract_frames",
    "fetch_backbone",
    "fetch_text_encoder",
    "merge_frames",
    "predict_videos",
    "start_one_stage",
    "train_stage1",
    "train_stage2",
]
