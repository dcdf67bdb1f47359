"""Named settings shipped with fgsgl: `--config NAME` reads `NAME.yaml` from this folder.

Each file holds settings in sections (`stage1: {lr: ...}`) or by dotted key, as
`fgsgl settings` lists them (fgsgl.settings); a path to any other YAML file works the same
way, and `extends: NAME_OR_FILE` builds one file on another.
"""
