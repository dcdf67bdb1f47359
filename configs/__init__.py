"""Named settings shipped with fgsgl: `--config NAME` reads `NAME.yaml` from this folder.

Each file holds pipeline parameters and training config keys (fgsgl.pipeline_params); a
path to any other YAML file works the same way.
"""
