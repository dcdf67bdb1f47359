"""The study page keeps the part a person wrote when `make study` rewrites the numbers."""

from __future__ import annotations

from fgsgl.pipelines.study import READING, _reading


def test_the_hand_written_reading_survives_a_rewrite(tmp_path):
    page = tmp_path / "synthmg.md"
    assert _reading(page).startswith(READING)  # no page yet: the heading that invites one
    page.write_text(f"# old numbers\n\n| a | b |\n\n{READING}\n\nFG-SA helps by 3 points.\n")
    assert _reading(page) == f"{READING}\n\nFG-SA helps by 3 points.\n"
    page.write_text("# numbers only\n")
    assert "written here by a person" in _reading(page)
