"""The legal values of the four FG-Text attributes (vocabulary.yaml, shipped data).

One list per attribute, read by the skeleton derivation (which emits only these values),
the class tables (checked against them by the tests) and the annotation workflow (the
choices it offers). `OTHER` is the escape for a value the list lacks.
"""

from __future__ import annotations

import functools
from importlib.resources import files

import yaml

from fgsgl.errors import FgsglError
from fgsgl.text.templates import ATTRIBUTES

OTHER = "other"
UNKNOWN = "unknown"  # not a value: what a derivation says when it cannot tell


@functools.cache
def vocabulary() -> dict[str, tuple[str, ...]]:
    """attribute -> its allowed values, in the file's order."""
    text = files("fgsgl.attributes").joinpath("vocabulary.yaml").read_text()
    data = yaml.safe_load(text)
    missing = [a for a in ATTRIBUTES if a not in data]
    if missing:
        raise FgsglError(f"vocabulary.yaml lacks {', '.join(missing)}")
    return {a: tuple(str(v) for v in data[a]) for a in ATTRIBUTES}


def vocabulary_problems(attribute: str, values: list[str]) -> list[str]:
    """The values not in the attribute's vocabulary (each once, with the valid ones)."""
    known = set(vocabulary()[attribute])
    bad = sorted({v for v in values if v not in known})
    return [f"{attribute} {v!r} is not in fgsgl/attributes/vocabulary.yaml" for v in bad]
