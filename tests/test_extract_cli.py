"""`fgsgl extract` on the command line: exit codes and what it prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from video_helpers import make_dataset, synth_dataset, with_bad_files

from fgsgl.cli import main
from fgsgl.video.frames import FramesArtifact


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SynthMG (8 clips) mixed with 4 bad files."""
    root = tmp_path_factory.mktemp("cli")
    return with_bad_files(synth_dataset(root / "synth"), root / "mixed")[0]


def test_bad_files_go_to_failures_and_the_run_succeeds(
    mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "frames"
    args = ["extract", str(mixed), str(out), "--size", "32", "--frames", "4", "--workers", "2"]
    assert main([*args, "--max-failure-ratio", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert f"extracted 8 of 12 clips into {out} (4 failed: see failures.csv)" in printed
    art = FramesArtifact.open(out)
    assert len(art) == 8 and len(art.failures()) == 4
    assert art.array(0).shape == (4, 32, 32, 3)


def test_over_the_failure_ratio_exits_1_with_the_count_and_keeps_the_good(
    mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "frames"
    assert main(["extract", str(mixed), str(out), "--size", "32", "--workers", "1"]) == 1
    error = capsys.readouterr().err
    assert "4 of 12 clips failed (33.3%), more than --max-failure-ratio 0.05" in error
    assert "Traceback" not in error
    assert len(FramesArtifact.open(out)) == 8


def test_merge_on_the_command_line(
    mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--size", "32", "--frames", "2", "--clips-per-shard", "3", "--workers", "1"]
    common += ["--max-failure-ratio", "1"]
    parts = [str(tmp_path / f"p{i}") for i in range(2)]
    for i, part in enumerate(parts):
        assert main(["extract", str(mixed), part, "--shard", f"{i}/2", *common]) == 0
    assert main(["extract", "--merge", *parts, str(tmp_path / "all")]) == 0
    assert "merged 2 parts" in capsys.readouterr().out
    assert len(FramesArtifact.open(tmp_path / "all")) == 8


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["extract", "only-one"], "expected DATASET OUT"),
        (["extract", "a", "b", "c"], "expected DATASET OUT"),
        (["extract", "--merge", "out"], "--merge needs PART... OUT"),
        (["extract", "--merge", "a", "b", "--shard", "0/2"], "--merge takes no --shard"),
        (["extract", "a", "b", "--shard", "2"], "expected i/n"),
        (["extract", "a", "b", "--frames", "0"], "--frames must be >= 1"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if argv[-1] == "0" and argv[1] == "a":  # a valid dataset, so only the setting is wrong
        rows = [{"clip_id": "c", "video": "v.mp4", "label": 0, "split": "train"}]
        argv = ["extract", str(make_dataset(tmp_path / "s", rows)), str(tmp_path / "o"), *argv[3:]]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_help_explains(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["extract", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for words in ("--max-failure-ratio", "--shard i/n", "--merge", "resumes", "failures.csv"):
        assert words in text
