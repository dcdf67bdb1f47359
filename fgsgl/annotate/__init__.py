"""FG-Text by people: Label Studio projects out, annotators' answers back in.

`labeling` writes the labeling config from the shipped vocabularies, `project` writes a
project (tasks, clip videos, pre-annotations from the derived attributes), `exports` reads
Label Studio's JSON exports into answers, `agreement` measures how far annotators agree,
`consensus` decides each clip's attributes and `report` writes what a person reads.
"""
