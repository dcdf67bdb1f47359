"""The Label Studio round trip against a real server: export a project from SynthMG, load
it into Label Studio 1.23.2 on 127.0.0.1, annotate as two people over the API, take a
snapshot export and import it with `fgsgl annotate import`."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from labelstudio import PYTHON, LabelStudio

from fgsgl.annotate.collect import import_annotations
from fgsgl.annotate.project import export_project
from fgsgl.attributes.truth import synthmg_truth
from fgsgl.dataset import load_dataset
from fgsgl.synth.config import SynthConfig
from fgsgl.synth.generate import generate

RECORDED = Path(__file__).with_name("data") / "labelstudio_export.json"
SYNTH = SynthConfig(classes=4, clips_per_class=6, subjects=3, keypoints=True, seed=5)

pytestmark = pytest.mark.slow


def choice(attribute: str, value: str) -> dict:
    return {"from_name": attribute, "to_name": "video", "type": "choices",
            "value": {"choices": [value]}}  # fmt: skip


def answers(truth: dict[str, str], wrong: dict[str, str] | None = None) -> list[dict]:
    values = {**truth, **(wrong or {})}
    out = [choice(a, v) for a, v in values.items()]
    if values.get("receiver") == "other":
        out.append({"from_name": "receiver_other", "to_name": "video", "type": "textarea",
                    "value": {"text": ["eyebrow"]}})  # fmt: skip
    return out


@pytest.mark.skipif(not PYTHON.is_file(), reason="no Label Studio: make labelstudio-venv")
def test_a_project_goes_through_a_real_label_studio_and_back(tmp_path: Path) -> None:
    generate(tmp_path / "smg", SYNTH, workers=1, progress=False)
    ds = load_dataset(tmp_path / "smg")
    project_dir = tmp_path / "project"
    summary = export_project(ds.root, project_dir, splits=["test"], annotators=2)
    project = json.loads((project_dir / "project.json").read_text())
    truth = synthmg_truth(ds.manifest).set_index("clip_id")

    server = LabelStudio(tmp_path / "ls-data", project_dir.resolve())
    try:
        started = server.wait()
        t0 = time.monotonic()
        pid = server.project(project, project_dir)
        tasks = server.tasks(pid)
        assert len(tasks) == summary["tasks"] > 0
        first = tasks[0]
        video = server.fetch(first["data"]["video"])
        name = first["data"]["video"].split("d=", 1)[1]
        assert video.status_code == 200 and video.content == (project_dir / name).read_bytes()
        second = server.user("second@fgsgl.example.com")
        disputed = {}
        for i, task in enumerate(tasks):
            clip = task["data"]["clip_id"]
            true = {a: truth.loc[clip, a] for a in ("initiator", "receiver", "direction", "motion")}
            server.annotate(task["id"], answers(true), 1)
            if i % 3 == 0:  # the second annotator disagrees on the receiver of every third
                wrong = "other" if true["receiver"] != "other" else "chin"
                server.annotate(task["id"], answers(true, {"receiver": wrong}), second)
                disputed[clip] = wrong
            else:
                server.annotate(task["id"], answers(true), second)
        export = server.export(pid)
        round_trip = time.monotonic() - t0
    finally:
        server.stop()
    assert server.process.returncode is not None

    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    if os.environ.get("FGSGL_RECORD_LABELSTUDIO") == "1":
        RECORDED.parent.mkdir(exist_ok=True)
        RECORDED.write_text(json.dumps(export, indent=1) + "\n")
    result = import_annotations([path], tmp_path / "agreement", dataset=ds.root)
    print(f"label-studio: ready after {started:.0f} s, round trip {round_trip:.1f} s")

    assert result["tasks"] == len(tasks) and result["annotators"] == 2
    assert result["problems"] == 0
    assert result["decisions"]["initiator"] == {"unanimous": len(tasks)}
    assert result["decisions"]["receiver"] == {
        "unanimous": len(tasks) - len(disputed), "disputed": len(disputed)
    }  # fmt: skip
    import pandas as pd

    consensus = pd.read_csv(tmp_path / "agreement" / "consensus.csv").set_index("clip_id")
    agreed = [c for c in consensus.index if c not in disputed]
    for a in ("initiator", "receiver", "direction", "motion"):
        assert list(consensus.loc[agreed, a]) == list(truth.loc[agreed, a])
    listed = pd.read_csv(tmp_path / "agreement" / "disagreements.csv")
    assert set(listed["clip_id"]) == set(disputed)
    assert set(listed["annotator"]) == {"admin@fgsgl.example.com", "second@fgsgl.example.com"}
    answered = pd.read_csv(tmp_path / "agreement" / "answers.csv", keep_default_na=False)
    others = answered[answered["value"] == "other"]
    assert set(others["other"]) <= {"eyebrow"} and len(others) == sum(
        v == "other" for v in disputed.values()
    )
    raters = pd.read_csv(tmp_path / "agreement" / "raters.csv")
    assert "derived suggestions" in set(raters["rater"])  # the predictions came back
