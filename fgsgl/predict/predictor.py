"""The predictor: a trained model artifact applied to new clips exactly as it was trained.

    predictor = Predictor.open("runs/.../model")            # preprocessing read from it
    clip = predictor.clip_frames("new.mp4")                  # T x S x S x 3 uint8
    probs = predictor.probabilities(clip[None])              # 1 x C softmax

Why a predictor and not just the model: a model only knows its pixels. How a video becomes
those pixels (T frames sampled as segment middles, decoded at the displayed size, cropped
or squashed, resized to S x S) was fixed by the frames artifact it was trained on, and
training records it in the model artifact (config.json `preprocessing`). The predictor
reads that record, never a setting typed by hand, and decodes with extraction's own code
(fgsgl.video.worker.read_clip), so a new video reaches the model as its training clips did;
from there the model's own transform (resize to its image size, its mean and std) is the
one evaluation uses (fgsgl.train.data.ClipTransform).

An artifact the predictor cannot trust is refused before any weight is read, with what is
wrong: missing files (each named), a config.json or preprocessing record missing (an
artifact older than them), or one written by a newer fgsgl.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fgsgl import __version__, storage
from fgsgl.artifacts import read_metadata
from fgsgl.errors import FgsglError

if TYPE_CHECKING:
    import torch

    from fgsgl.video.decode import VideoFile

log = logging.getLogger("fgsgl.predict")

MODEL_KIND = "fgsgl.model"
CLASSIFIER = "classifier softmax"
# what the preprocessing record must hold for new videos to be read as the training clips
RECORD_KEYS = ("frames", "size", "resize", "keypoints")


@dataclass(frozen=True)
class Preprocessing:
    """How clips become the model's input, read from the model artifact (never re-specified
    by hand): T frames per clip (the sampler's segment middles), S x S pixels made with the
    resize mode of fgsgl.video.resize, and keypoints (joints) where the family reads them.
    Normalisation is the model's own (its backbone's mean and std, `image_size`)."""

    frames: int  # T
    size: int  # S
    resize: str  # squash | center-crop, as the frames artifact used
    keypoints: bool  # the model reads per-frame keypoints (CLIP-MG)
    joints: int | None = None  # J of those keypoints
    sampler: str | None = None  # the frames artifact's sampler ("segment-middle")
    image_size: int | None = None  # what the model resizes S x S to (its transform)
    subtract_clip_mean: bool = False  # done inside the model (for the record)

    @classmethod
    def from_record(cls, record: dict[str, Any] | None, where: str) -> Preprocessing:
        """From config.json's `preprocessing`; FgsglError naming what is not recorded."""
        missing = [k for k in RECORD_KEYS if (record or {}).get(k) is None]
        if missing:
            raise FgsglError(
                f"{where}: the model does not record the preprocessing it was trained with "
                f"(missing: {', '.join(missing)}); it was trained before model artifacts "
                "recorded it, so new videos cannot be read as its training clips were. "
                "Train it again with this fgsgl (`fgsgl train ...`)"
            )
        assert record is not None
        joints = record.get("joints")
        return cls(
            frames=int(record["frames"]),
            size=int(record["size"]),
            resize=str(record["resize"]),
            keypoints=bool(record["keypoints"]),
            joints=None if joints is None else int(joints),
            sampler=record.get("sampler"),
            image_size=record.get("image_size"),
            subtract_clip_mean=bool(record.get("subtract_clip_mean", False)),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """'8 frames of 64 x 64 px, resize squash' (+ keypoints)."""
        text = f"{self.frames} frames of {self.size} x {self.size} px, resize {self.resize}"
        if self.keypoints:
            text += f", keypoints ({self.joints} joints)" if self.joints else ", keypoints"
        return text

    def frames_differences(self, meta: dict[str, Any]) -> list[str]:
        """How a frames artifact's settings (its metadata) differ from these, by name."""
        theirs = {"frames": meta.get("frames"), "size": meta.get("size")}
        theirs["resize"] = meta.get("resize")
        ours = {"frames": self.frames, "size": self.size, "resize": self.resize}
        out = [f"{k} {theirs[k]!r}, the model's {v!r}" for k, v in ours.items() if theirs[k] != v]
        sampler = meta.get("sampler")
        if self.sampler and sampler and sampler != self.sampler:
            out.append(f"sampler {sampler!r}, the model's {self.sampler!r}")
        return out

    def frames_problem(self, path: str, meta: dict[str, Any]) -> str | None:
        """Why the clips of frames artifact `path` (its metadata) cannot go to this model
        as they are stored, and how to make ones that can; None when they fit."""
        differ = self.frames_differences(meta)
        if not differ:
            return None
        made = f"frames {meta.get('frames')}, size {meta.get('size')}, resize {meta.get('resize')}"
        return (
            f"{path}: a frames artifact made with other frame settings than the model's: "
            f"{'; '.join(differ)} (the artifact: {made}; the model: {self.describe()}). "
            f"Extract the dataset again with `fgsgl extract DATASET OUT --frames "
            f"{self.frames} --size {self.size} --resize {self.resize}`, or give "
            "the videos (the dataset directory) instead"
        )


@dataclass
class Clip:
    """One clip read from a video: its frames (T, S, S, 3) uint8 as a frames artifact
    stores them, its keypoints (T, J, 3) in those frames' pixels (or None), the video frame
    numbers sampled, and the sampler's note (repeated or clamped frames)."""

    frames: np.ndarray
    keypoints: np.ndarray | None
    indices: list[int]
    note: str = ""


def open_video(path: str, pre: Preprocessing) -> VideoFile:
    """A video opened to read clips at the model's S and resize mode (local path)."""
    from fgsgl.video.decode import VideoFile

    return VideoFile(path, size=pre.size, resize=pre.resize)


def read_clip(
    video: VideoFile,
    start: int | None,
    end: int | None,
    pre: Preprocessing,
    *,
    keypoints: str | None = None,
    keypoints_name: str | None = None,
) -> Clip:
    """One clip of an open video, sampled and resized as `fgsgl extract` does (its own
    code), with the clip's keypoints from `keypoints` (an .npy file, one row per video
    frame, in the video's pixels) mapped as extraction maps them. Raises VideoError,
    NoFramesError or KeypointsError (fgsgl.video) for a clip that cannot be read."""
    from fgsgl.video.worker import clip_keypoints
    from fgsgl.video.worker import read_clip as extract_clip

    frames, indices, note = extract_clip(video, start, end, pre.frames)
    points = None
    if keypoints is not None:
        name = keypoints_name or keypoints
        points = clip_keypoints(keypoints, name, indices, video, pre.joints)
    return Clip(frames, points, indices, note)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in str(text).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_artifact(model_dir: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata, config.json) of a model artifact the predictor can use; otherwise one
    FgsglError listing everything missing or unfit (before any weight is read)."""
    from fgsgl.train.artifact import CONFIG_FORMAT, CONFIG_JSON, CONFIG_YAML

    if storage.is_remote(model_dir):
        raise FgsglError(
            f"{model_dir}: a model artifact is read from a local directory; copy it down "
            "(gcloud storage cp -r, aws s3 cp --recursive) or mount the bucket"
        )
    root = Path(model_dir)
    if not root.is_dir():
        why = "not a directory" if root.exists() else "not found"
        raise FgsglError(f"{root}: no model artifact there ({why})")
    meta = read_metadata(root, MODEL_KIND)
    made_by = str(meta.get("fgsgl_version", "unknown"))
    problems = []
    if _version(made_by) > _version(__version__):
        problems.append(
            f"made by fgsgl {made_by}, newer than this fgsgl {__version__}: upgrade fgsgl"
        )
    config: dict[str, Any] = {}
    config_file = root / CONFIG_JSON
    if not config_file.is_file():
        problems.append(
            f"{CONFIG_JSON}: missing (made by fgsgl {made_by} before model artifacts carried "
            "config.json and the preprocessing record: train it again with this fgsgl)"
        )
    else:
        try:
            config = json.loads(config_file.read_text())
        except json.JSONDecodeError as e:
            problems.append(f"{CONFIG_JSON}: not valid JSON ({e})")
        if config and config.get("format") != CONFIG_FORMAT:
            problems.append(
                f"{CONFIG_JSON}: format {config.get('format')!r}, this fgsgl reads {CONFIG_FORMAT}"
            )
    if not (root / CONFIG_YAML).is_file():
        problems.append(f"{CONFIG_YAML}: missing (the training config)")
    for name, size in (config.get("files") or {}).items():
        path = root / name
        if not path.is_file():
            problems.append(f"{name}: missing (weights of the model)")
        elif path.stat().st_size != size:
            problems.append(
                f"{name}: {path.stat().st_size} bytes, config.json records {size} "
                "(truncated or replaced)"
            )
    if config and not config.get("files"):
        problems.append(f"{CONFIG_JSON}: lists no weight files")
    if problems:
        raise FgsglError(f"{root}: cannot use this model artifact", problems)
    return meta, config


class Predictor:
    """A trained model with its preprocessing, ready for clips; see the module docstring.

    `probabilities` takes clips as a frames artifact stores them; `clip_frames` makes one
    from a video. Scoring: the softmax of the classifier's logits (optionally plus ALPHA x
    the CP-A prototype similarity, as `fgsgl evaluate --with-prototypes`), in float32.
    """

    def __init__(
        self,
        model: Any,
        *,
        model_dir: Path,
        meta: dict[str, Any],
        config: dict[str, Any],
        device: torch.device,
        batch_size: int,
        autocast: torch.dtype | None,
        prototypes: torch.Tensor | None = None,
        alpha: float = 0.0,
    ) -> None:
        from fgsgl.train.data import ClipTransform

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.model_dir = model_dir
        self.meta = meta
        self.config = config
        self.device = device
        self.batch_size = batch_size
        self.autocast = autocast
        self.preprocessing = Preprocessing.from_record(
            config.get("preprocessing"), f"{model_dir}/config.json"
        )
        self.class_names: list[str] = list(config["class_names"])
        self.class_ids: list[int] = [int(c) for c in config["class_ids"]]
        self.tau = float((config.get("inference") or {}).get("tau", 0.07))
        self.prototypes = prototypes
        self.alpha = alpha
        self.transform = ClipTransform(model.image_size, model.image_mean, model.image_std)
        self._video: VideoFile | None = None

    @classmethod
    def open(
        cls,
        model_dir: str | Path,
        *,
        device: str = "auto",
        batch_size: int = 8,
        weights: str | None = None,
        texts: str | None = None,
        with_prototypes: float | None = None,
    ) -> Predictor:
        """Check and load a model artifact. device: "auto" (CUDA where there is one), "cpu",
        "cuda:1", ...; weights: the backbone's checkpoint as a weights artifact;
        texts + with_prototypes ALPHA: add the class-prototype similarity to the scores."""
        from fgsgl.runtime.device import autocast_dtype, resolve_device
        from fgsgl.train.artifact import load_model

        if (with_prototypes is None) != (texts is None):
            raise FgsglError("with_prototypes ALPHA and texts TEXTS go together")
        meta, config = check_artifact(model_dir)
        Preprocessing.from_record(config.get("preprocessing"), f"{model_dir}/config.json")
        dev = resolve_device(None if device in (None, "auto") else device)
        prototypes = None
        if texts is not None:
            prototypes = _prototypes(texts, meta, config)
        model, cfg = load_model(model_dir, weights=weights)
        model.to(dev).eval()
        return cls(
            model,
            model_dir=Path(model_dir),
            meta=meta,
            config=config,
            device=dev,
            batch_size=batch_size,
            autocast=autocast_dtype(cfg.precision, dev),
            prototypes=None if prototypes is None else prototypes.to(dev),
            alpha=float(with_prototypes or 0.0),
        )

    # --- what it is -----------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def family(self) -> str:
        return str(self.config.get("family"))

    @property
    def scoring(self) -> str:
        """The scores' definition, written beside every prediction."""
        if self.prototypes is None or not self.alpha:
            return CLASSIFIER
        return (
            f"softmax(classifier logits + {self.alpha:g} x cosine(z_high, T_c) / tau {self.tau:g})"
        )

    # --- scores ---------------------------------------------------------------------------
    def probabilities(self, frames: np.ndarray, keypoints: np.ndarray | None = None) -> np.ndarray:
        """N x C float32 softmax probabilities of N clips.

        frames: N x T x S x S x 3 uint8, exactly as a frames artifact stores them (or as
        `clip_frames` returns them); keypoints: N x T x J x 3 float32 (x, y in those
        frames' pixels, confidence), required when the model reads them (CLIP-MG). Batched
        by `batch_size` under torch.inference_mode."""
        import torch

        from fgsgl.runtime.device import autocast_context
        from fgsgl.train.data import keypoint_inputs

        pre = self.preprocessing
        frames = np.asarray(frames)
        want = (pre.frames, pre.size, pre.size, 3)
        if frames.ndim != 5 or tuple(frames.shape[1:]) != want or frames.dtype != np.uint8:
            raise ValueError(
                f"frames must be uint8 N x {' x '.join(map(str, want))} (the model's "
                f"preprocessing: {pre.describe()}); got {frames.dtype} {tuple(frames.shape)}"
            )
        if pre.keypoints and keypoints is None:
            raise ValueError(
                f"a {self.family} model needs keypoints (N x T x J x 3) beside the frames"
            )
        if keypoints is not None:
            keypoints = np.asarray(keypoints, dtype=np.float32)
            if keypoints.ndim != 4 or keypoints.shape[:2] != frames.shape[:2]:
                raise ValueError(
                    f"keypoints must be N x T x J x 3 = {frames.shape[0]} x {pre.frames} x J "
                    f"x 3; got {tuple(keypoints.shape)}"
                )
        out = np.zeros((len(frames), self.num_classes), dtype=np.float32)
        for lo in range(0, len(frames), self.batch_size):
            hi = min(lo + self.batch_size, len(frames))
            pixels = torch.stack([self.transform(clip) for clip in frames[lo:hi]])
            inputs = [pixels.to(self.device)]
            if pre.keypoints:
                points = [keypoint_inputs(k, pre.size) for k in keypoints[lo:hi]]
                inputs.append(torch.stack(points).to(self.device))
            with torch.inference_mode(), autocast_context(self.device, self.autocast):
                out[lo:hi] = self._softmax(self.model(*inputs))
        return out

    def _softmax(self, result: Any) -> np.ndarray:
        """The scores of a ModelOutput (classifier logits, plus the prototypes') as
        softmax probabilities."""
        import torch

        from fgsgl.evaluate.predict import prototype_scores

        scores = result.logits.float()
        if self.prototypes is not None and self.alpha:
            scores = scores + self.alpha * prototype_scores(
                result.z_high, self.prototypes, self.tau
            )
        return torch.softmax(scores, dim=1).cpu().numpy()

    # --- frames shared by overlapping windows ---------------------------------------------
    @property
    def frames_independent(self) -> bool:
        """Whether each frame's backbone features can be computed once and shared by every
        window holding it (fgsgl.model.base.FamilyModel.frames_independent)."""
        return bool(getattr(self.model, "frames_independent", False))

    def frame_features(self, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(f_mid, f_high) backbone features, (n, D) each, of n frames (n x S x S x 3 uint8),
        transformed as clips' frames are; only for a `frames_independent` model."""
        import torch

        from fgsgl.runtime.device import autocast_context

        if not self.frames_independent:
            raise ValueError("this model's frame features depend on the clip (per-window only)")
        images = self.transform(np.asarray(frames)).to(self.device)
        mids, highs = [], []
        step = self.batch_size * self.preprocessing.frames  # images per backbone call
        with torch.inference_mode(), autocast_context(self.device, self.autocast):
            for lo in range(0, len(images), step):
                dtype = next(self.model.backbone.parameters()).dtype
                f_mid, f_high = self.model.backbone(images[lo : lo + step].to(dtype))
                mids.append(f_mid)
                highs.append(f_high)
        return torch.cat(mids), torch.cat(highs)

    def clip_probabilities(self, f_mid: torch.Tensor, f_high: torch.Tensor) -> np.ndarray:
        """B x C probabilities of B clips from their frames' features, (B, T, D) each."""
        import torch

        from fgsgl.runtime.device import autocast_context

        with torch.inference_mode(), autocast_context(self.device, self.autocast):
            return self._softmax(self.model.clip_output(f_mid, f_high))

    # --- clips from videos ----------------------------------------------------------------
    def video(self, path: str) -> VideoFile:
        """The open video at `path` (kept open while consecutive clips read from it)."""
        if self._video is None or self._video.path != path:
            self._video = open_video(path, self.preprocessing)
        return self._video

    def read_clip(
        self,
        video: str,
        start_frame: int | None = None,
        end_frame: int | None = None,
        *,
        keypoints: str | None = None,
    ) -> Clip:
        """One clip of a local video file with its keypoints (see `read_clip`)."""
        return read_clip(
            self.video(video), start_frame, end_frame, self.preprocessing, keypoints=keypoints
        )

    def clip_frames(
        self, video: str, start_frame: int | None = None, end_frame: int | None = None
    ) -> np.ndarray:
        """T x S x S x 3 uint8 of one clip (the whole video without start/end; inclusive,
        0-based otherwise), sampled and resized exactly as `fgsgl extract` does."""
        return self.read_clip(video, start_frame, end_frame).frames


def _prototypes(texts: str, meta: dict[str, Any], config: dict[str, Any]) -> torch.Tensor:
    """The class text embeddings of a texts artifact that fits the model's text space."""
    import torch

    from fgsgl.text.bank import load_texts

    bank = load_texts(texts)
    problems = []
    if bank.dim != int(config["text_dim"]):
        problems.append(f"dimension {bank.dim}, the model projects to {config['text_dim']}")
    if meta.get("texts_encoder") not in (None, bank.encoder):
        problems.append(
            f"encoded by {bank.encoder!r}, the model was trained with {meta['texts_encoder']!r}"
        )
    if bank.num_classes != len(config["class_names"]):
        problems.append(f"{bank.num_classes} classes, the model has {len(config['class_names'])}")
    if problems:
        raise FgsglError(f"texts {texts} do not fit the model", problems)
    return torch.as_tensor(bank.class_embeddings())
