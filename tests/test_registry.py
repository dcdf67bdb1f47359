"""One registry mechanism for what is chosen by name: entries register themselves, and the
errors and --help texts list what is registered."""

from __future__ import annotations

import pytest

from fgsgl.errors import FgsglError
from fgsgl.registry import Registry


def test_register_look_up_and_refuse() -> None:
    things: Registry[int] = Registry("widget")
    things.add("one", 1, help="the first")

    @things.register("two", help="the second", big=True)
    def two() -> int:
        return 2

    assert things.get("one") == 1 and things.get("two") is two
    assert things.entry("two").info == {"big": True} and list(things) == ["one", "two"]
    things.add("one", 1, help="the first")  # the same value again: a no-op
    with pytest.raises(ValueError, match="widget 'one' is already registered"):
        things.add("one", 3, help="another")
    with pytest.raises(FgsglError, match=r"unknown widget 'three' \(known: one, two\)"):
        things.get("three")
    assert things.help_lines() == "  one  the first\n  two  the second"
    things.remove("two")
    assert "two" not in things and len(things) == 1


def test_the_registries_are_what_errors_and_help_list() -> None:
    from fgsgl.cli import build_parser
    from fgsgl.cli.dataset import IMPORTERS
    from fgsgl.model.backbones import KINDS, backbone_problem
    from fgsgl.model.families import FAMILIES, family_class
    from fgsgl.text.encoders import BUILDERS, encoder_names, parse_encoder_name

    assert sorted(FAMILIES) == ["clip_mg", "fgsgl"]
    with pytest.raises(FgsglError, match=r"unknown model family .x. \(known: .*fgsgl"):
        family_class("x")
    problem = backbone_problem("nope")
    assert all(kind in problem for kind in KINDS)
    assert encoder_names() == ["minilm", "hf:<path-or-id>", "internvl:<path-or-id>"]
    assert list(BUILDERS) == ["minilm", "hf", "internvl"]
    with pytest.raises(FgsglError, match="valid encoders: minilm, hf:<path-or-id>"):
        parse_encoder_name("word2vec")
    text = build_parser().parse_args(["import", "list", "a", "b"])
    assert text.kind == "list" and list(IMPORTERS) == ["imigue", "smg", "list", "ma52"]
