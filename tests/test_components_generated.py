"""components/train.py is generated from the settings schema: the committed file is what
the generator writes now, and its signatures are the schema's stage settings."""

from __future__ import annotations

import inspect

from fgsgl.components import generate
from fgsgl.components.train import train_stage1, train_stage2
from fgsgl.settings import training_stage_settings


def test_the_committed_stage_components_are_what_the_schema_generates() -> None:
    assert generate.main(["--check"]) == 0, "components/train.py is stale: run make components"


def test_each_stage_component_receives_exactly_its_stage_settings() -> None:
    for stage, component in ((1, train_stage1), (2, train_stage2)):
        params = inspect.signature(component.python_func).parameters
        names = [n for n in params if params[n].annotation in (int, str, float, bool)]
        names = [n for n in names if n != "deepspeed"]
        assert names == [s.name for s in training_stage_settings(stage)]
        doc = component.python_func.__doc__
        for s in training_stage_settings(stage):
            assert f"        {s.name}: " in doc  # every parameter has its Args line


def test_a_stale_file_is_reported(tmp_path, monkeypatch, capsys) -> None:
    target = tmp_path / "train.py"
    target.write_text(generate.source().replace("lambda_fg: float,", "lambda_fg: int,"))
    monkeypatch.setattr(generate, "TARGET", target)
    assert generate.main(["--check"]) == 1
    assert "make components" in capsys.readouterr().err
    assert generate.main([]) == 0 and target.read_text() == generate.source()
