"""Finding things in a public dataset's folder tree: videos by id, splits by folder name.

Public releases put labels and videos in separate trees (MiGA's iMiGUE:
`imigue_skeleton_train/0001/0001_label.csv` and `imigue_rgb_phase1/train_data/0001/0001.mp4`),
so a video is found by its id anywhere under the source, and a clip's split is read from
the names of the folders it lies in.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from fgsgl.dataset.contract import DatasetError, split_word

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v")

_WORD = re.compile(r"[A-Za-z]+")


def splits_named(relative: Path) -> set[str]:
    """The splits named by the folders of a path relative to the source (one, ideally)."""
    return {
        s
        for part in relative.parent.parts
        for word in _WORD.findall(part)
        if (s := split_word(word))
    }


class VideoIndex:
    """Every video file under some folders, found by the id its file name starts with."""

    def __init__(self, roots: list[Path]) -> None:
        self.by_stem: dict[str, list[Path]] = defaultdict(list)
        for root in roots:
            for path in sorted(root.rglob("*")):
                if path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file():
                    self.by_stem[path.stem].append(path)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_stem.values())

    def find(self, video_id: str) -> list[Path]:
        """Videos whose name is the id, else those named `<id>_<stream>` preferring RGB.

        SMG keeps several streams per sample (colour, depth, silhouette): a name with
        'color'/'colour'/'rgb' in it wins; otherwise every candidate is returned and the
        caller reports the ambiguity.
        """
        exact = self.by_stem.get(video_id, [])
        if exact:
            return exact
        prefixed = [
            p
            for stem, paths in self.by_stem.items()
            if stem.startswith(video_id) and stem[len(video_id)] in "_-."
            for p in paths
        ]
        rgb = [p for p in prefixed if re.search(r"colou?r|rgb", p.stem[len(video_id) :], re.I)]
        return rgb or prefixed


def existing_dir(path: Path, what: str) -> Path:
    """`path` resolved, or DatasetError naming the flag it came from."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DatasetError(f"{what} {path}: {'not a directory' if path.exists() else 'not found'}")
    return path.resolve()


def find_one_video(
    index: VideoIndex, vid: str, root: Path, name: str, problems: list[str]
) -> Path | None:
    """The one video of `vid`, or None with a problem naming the label file."""
    found = index.find(vid)
    if not found:
        problems.append(f"{name}: no video named {vid}.* under {root}")
        return None
    if len(found) > 1:
        listed = ", ".join(str(p.relative_to(root)) for p in found)
        problems.append(f"{name}: several videos for {vid} under {root}: {listed}")
        return None
    return found[0]
