"""The public skeleton files of iMiGUE and SMG, read into the keypoints contract.

The contract (what SynthMG writes and `fgsgl extract` reads, docs/artifacts.md): one float32
array (F, J, 3) per video, row f = video frame f (0-based), columns x, y, confidence, x and
y in the video frame's pixels (x right, y down, pixel centres at integers), confidence 0
where a joint was not found. Both public layouts below are one CSV per video with one line
per frame, so row f of the file is frame f (the organisers' own readers index them so).

iMiGUE, MiGA challenge release (`imigue_skeleton_{train,validate,test}/<VVVV>/`):
  `<VVVV>_light_hand.csv`: OpenPose 2D joints, one line per frame: a frame number, then 35
  joints x (x, y, confidence) = 106 fields: the 25 of OpenPose BODY_25, in BODY_25's order,
  then 5 + 5 hand points. `<VVVV>_light.csv`: the same without the hand points (25 joints,
  76 fields; inferred from the name and the readers that fall back to it). Coordinates are
  the video's pixels, 0 with confidence 0 where OpenPose found nothing; the frame number is
  not used (row f is frame f, as the readers below take it; gaps in it are noted).
  Sources: the MiGA organisers' `iMiGUEaccessSample` (class Skeleton: field 0 skipped, then
  35 triples named Nose, ShoulderCenter, ShoulderLeft, ...), challenge entries that read
  `*_light_hand.csv` as `rows[1:]` of 106 values reshaped (35, 3), and ones preferring
  `_light_hand` over `_light`.
  Some readers skip a header line, others read none: a first line of names (no numbers) is
  taken as a header.

SMG (`SampleNNNN/SampleNNNN_skeleton.csv`, Kinect V2): no header, one line per frame, the 25
  Kinect V2 joints in JointType order, 11 values each: camera-space position (3),
  orientation quaternion (4), then two 2D pixel pairs (values 7-8 and 9-10). Source: the SMG
  authors' `SMGaccessSample` (class Skeleton: stride 11, [0:3] world position, [3:7]
  orientation, [7:9] pixel position) and their `tools/smg_gendata.py` (`11*j` stride, row =
  frame). What the second pair is is not written down anywhere we found; Kinect V2 exports
  usually carry a depth-space (512 x 424) and a colour-space (1920 x 1080) point, so the
  pair that spreads wider over the body (colour space: about 3x the depth image's pixels
  per degree) is taken, unless `pixel_columns` names one (7 or 9). Kinect gives no
  confidence: a joint at (0, 0) (a frame with no tracked body) gets confidence 0, others 1.

A layout that is different (another joint count, a JSON-per-frame OpenPose dump) is a new
`SkeletonFormat`: file names to look for per video id and a `read` function.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


class SkeletonError(Exception):
    """A skeleton file that cannot be read as its layout says (the message says why)."""


# iMiGUE: MiGA's names for the 35 joints (BODY_25's order; MiGA's left/right words).
IMIGUE_JOINTS = (
    "Nose",
    "ShoulderCenter",
    "ShoulderLeft",
    "ElbowLeft",
    "HandLeft",
    "ShoulderRight",
    "ElbowRight",
    "HandRight",
    "HipCenter",
    "HipLeft",
    "KneeLeft",
    "AnkleLeft",
    "HipRight",
    "KneeRight",
    "AnkleRight",
    "EyeLeft",
    "EyeRight",
    "EarLeft",
    "EarRight",
    "ToeLeft",
    "SmallToeLeft",
    "HeelLeft",
    "ToeRight",
    "SmallToeRight",
    "HeelRight",
    *(f"RightFinger{i}" for i in range(1, 6)),
    *(f"LeftFinger{i}" for i in range(1, 6)),
)
IMIGUE_BODY_JOINTS = 25

# SMG: Kinect V2 JointType order.
KINECT_JOINTS = (
    "SpineBase",
    "SpineMid",
    "Neck",
    "Head",
    "ShoulderLeft",
    "ElbowLeft",
    "WristLeft",
    "HandLeft",
    "ShoulderRight",
    "ElbowRight",
    "WristRight",
    "HandRight",
    "HipLeft",
    "KneeLeft",
    "AnkleLeft",
    "FootLeft",
    "HipRight",
    "KneeRight",
    "AnkleRight",
    "FootRight",
    "SpineShoulder",
    "HandTipLeft",
    "ThumbLeft",
    "HandTipRight",
    "ThumbRight",
)
KINECT_VALUES = 11  # per joint: position (3), orientation (4), two 2D pixel pairs (2 + 2)
KINECT_PIXEL_COLUMNS = (7, 9)


@dataclass(frozen=True)
class SkeletonFormat:
    """One public layout: the files of a video id (first found wins) and how to read one."""

    name: str
    file_names: tuple[str, ...]  # patterns with {id}, in order of preference
    joints: tuple[str, ...]  # names of the J joints every converted array has
    read: Callable[[Path], tuple[np.ndarray, str]]  # -> (F, J, 3) float32, note ("" if none)
    source: str  # where the layout was learned, for import.json

    def names_for(self, video_id: str) -> list[str]:
        return [n.format(id=video_id) for n in self.file_names]


def read_numbers(path: Path, *, header: str = "auto") -> np.ndarray:
    """A CSV of numbers as float64 (rows, fields); empty cells are NaN, a trailing comma
    adds no field. header="auto" skips a first line of names (no number in it)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise SkeletonError(f"unreadable ({e})") from e
    lines = text.splitlines()
    skip = 1 if header == "auto" and lines and _header_line(lines[0]) else 0
    if len(lines) <= skip:
        raise SkeletonError("no frames (the file is empty)")
    try:
        frame = pd.read_csv(io.StringIO(text), header=None, skiprows=skip, dtype=float)
    except (ValueError, pd.errors.ParserError) as e:
        raise SkeletonError(_first_non_number(lines, skip) or _parser_message(e, skip)) from e
    values = frame.to_numpy(dtype=np.float64)
    while values.shape[1] and np.isnan(values[:, -1]).all():  # trailing commas
        values = values[:, :-1]
    if np.isinf(values).any():  # "inf" reads as a number, but no joint is there
        row, column = np.argwhere(np.isinf(values))[0]
        numbered = [n for n, line in enumerate(lines, 1) if n > skip and line.strip()]
        raise SkeletonError(
            f"line {numbered[row]}, field {column + 1}: {values[row, column]} is not a "
            "finite number"
        )
    return values


def _first_non_number(lines: list[str], skip: int) -> str | None:
    """'line N, field M: 'x' is not a number' for the first cell pandas could not read."""
    for number, line in enumerate(lines[skip:], skip + 1):
        for field, cell in enumerate(line.split(","), 1):
            if cell.strip() and not _NUMBER.fullmatch(cell.strip()):
                return f"line {number}, field {field}: {cell.strip()!r} is not a number"
    return None


# What a CSV of numbers holds: decimal numbers (ASCII digits), nan or inf (refused later).
_NUMBER = re.compile(
    r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?(?:nan|inf)", re.I
)


def _header_line(line: str) -> bool:
    """Names, not numbers: a first line with any number in it is a frame (one bad cell
    there is an error, not a header that would shift every frame by one)."""
    cells = [c.strip() for c in line.split(",") if c.strip()]
    return bool(cells) and not any(_NUMBER.fullmatch(c) for c in cells)


def _parser_message(error: Exception, skip: int) -> str:
    text = str(error).strip().splitlines()[0].replace("Error tokenizing data. C error: ", "")
    if "could not convert" in text or "Unable to parse" in text:
        return f"not all numbers ({text})"
    if skip and "line" in text:
        text += " (counting the header line as line 1)"
    return text


def read_openpose_light(path: Path) -> tuple[np.ndarray, str]:
    """iMiGUE `<VVVV>_light_hand.csv` / `_light.csv`: (F, 35 or 25, 3), as written."""
    values = read_numbers(path)
    fields = values.shape[1]
    joints = (fields - 1) // 3
    if fields != 1 + 3 * joints or joints not in (len(IMIGUE_JOINTS), IMIGUE_BODY_JOINTS):
        raise SkeletonError(
            f"{fields} fields per line; expected a frame number and 35 (x, y, confidence) "
            f"triples (106 fields, _light_hand.csv) or 25 (76 fields, _light.csv)"
        )
    points = values[:, 1:].reshape(len(values), joints, 3)
    steps = np.diff(values[:, 0])
    note = "" if (steps == 1).all() else "frame numbers not consecutive (rows read as frames)"
    return _clean(points), note


def read_kinect_v2(path: Path, pixel_columns: int | None = None) -> tuple[np.ndarray, str]:
    """SMG `SampleNNNN_skeleton.csv`: (F, 25, 3) from one of the two 2D pairs per joint."""
    values = read_numbers(path, header="none")
    expected = len(KINECT_JOINTS) * KINECT_VALUES
    if values.shape[1] != expected:
        raise SkeletonError(
            f"{values.shape[1]} fields per line; expected 25 Kinect V2 joints x 11 values "
            f"= {expected}"
        )
    per_joint = values.reshape(len(values), len(KINECT_JOINTS), KINECT_VALUES)
    column = pixel_columns if pixel_columns is not None else _wider_pair(per_joint)
    xy = per_joint[..., column : column + 2]
    tracked = ~(np.nan_to_num(xy) == 0).all(axis=2, keepdims=True)
    points = np.concatenate([xy, tracked.astype(np.float64)], axis=2)
    note = "" if pixel_columns is not None else f"2D from values {column}-{column + 1}"
    return _clean(points), note


def _wider_pair(per_joint: np.ndarray) -> int:
    """The 2D pair (values 7-8 or 9-10) whose points spread wider across a body (median
    over tracked frames of the x range): the colour-space one, for Kinect V2 exports."""
    spreads = []
    for c in KINECT_PIXEL_COLUMNS:
        x = per_joint[..., c]
        tracked = np.nan_to_num(per_joint[..., c : c + 2]).any(axis=(1, 2))
        rows = np.nan_to_num(x[tracked])
        spreads.append(float(np.median(np.ptp(rows, axis=1))) if len(rows) else 0.0)
    return KINECT_PIXEL_COLUMNS[int(np.argmax(spreads))]


def _clean(points: np.ndarray) -> np.ndarray:
    """float32; a joint with any NaN value, or confidence 0, becomes (0, 0, 0)."""
    missing = np.isnan(points).any(axis=2) | (np.nan_to_num(points[..., 2]) <= 0)
    points = np.where(missing[..., None], 0.0, points)
    return points.astype(np.float32)


def widen_joints(points: np.ndarray, joints: int) -> np.ndarray:
    """Pad (F, J, 3) to (F, joints, 3) with joints not found (zeros, confidence 0)."""
    if points.shape[1] >= joints:
        return points
    pad = np.zeros((len(points), joints - points.shape[1], 3), np.float32)
    return np.concatenate([points, pad], axis=1)


IMIGUE_OPENPOSE = SkeletonFormat(
    name="imigue-openpose",
    file_names=("{id}_light_hand.csv", "{id}_light.csv"),
    joints=IMIGUE_JOINTS,
    read=read_openpose_light,
    source=(
        "MiGA challenge release: <VVVV>_light_hand.csv (frame, 35 x (x, y, confidence)) or "
        "<VVVV>_light.csv (25 joints); MiGA iMiGUEaccessSample.Skeleton"
    ),
)


def smg_kinect(pixel_columns: int | None = None) -> SkeletonFormat:
    """The SMG layout; `pixel_columns` 7 or 9 picks the 2D pair, None the wider one."""
    if pixel_columns not in (None, *KINECT_PIXEL_COLUMNS):
        raise ValueError(f"pixel_columns must be one of {KINECT_PIXEL_COLUMNS} or None")
    return SkeletonFormat(
        name="smg-kinect-v2",
        file_names=("{id}_skeleton.csv",),
        joints=KINECT_JOINTS,
        read=lambda path: read_kinect_v2(path, pixel_columns),
        source=(
            "SMG release: SampleNNNN_skeleton.csv, 25 Kinect V2 joints x 11 values "
            "(position 3, orientation 4, 2D 2 + 2); SMGaccessSample.Skeleton, "
            "tools/smg_gendata.py"
        ),
    )
