"""SynthMG: a procedural micro-gesture video benchmark (`fgsgl synth`).

A seated person (head with eyes, nose, mouth and ears, neck, shoulders, torso, two arms
with hands) moves a hand to a receiver on the body and performs a motion there. Classes
are modelled on iMiGUE and SMG and come in hard pairs (see classes.py); each clip's
initiator, receiver, direction and motion vary inside its class and are written to the
manifest, from which the fine-grained text T_fg is built.

Modules, one idea each: classes (the gesture classes as data), body (subject, skeleton,
keypoints), motion (hand trajectories and motion phrases), render (drawing a frame), clip
(one clip from its seed), video (H.264 mp4 with PyAV), generate (the dataset: plan,
splits, parallel rendering, tables), long (long videos with several gestures each, whose
segments are the clips: ground truth for spotting), compositional (the compositional
preset's plan: a receiver x motion class grid, per-split counts, low-shot classes) and
shortcut (its background distractor), contact_sheet (a PNG to look at), calibrate (a
logistic-regression baseline that says how hard a generated dataset is).

The library entry points are `fgsgl.synth.generate.generate(out, SynthConfig(...))` and
`fgsgl.synth.long.generate_long(out, SynthConfig(...), LongConfig(videos=N))`.
"""

from fgsgl.synth.config import PRESETS, LongConfig, SynthConfig

__all__ = ["PRESETS", "LongConfig", "SynthConfig"]
