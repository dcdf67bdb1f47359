"""Built-in class names of iMiGUE (32) and SMG (17), in the order of their label ids.

Index i holds the name of the 1-based label id i + 1 of the source's annotation files;
the imported dataset's label is that index (0-based), as in the public baselines
(e.g. mikecheninoulu/SMG tools/smg_gendata.py: `label - 1`).

Sources (read 2026; neither dataset's own repository publishes the list as text):
- SMG: the `id,name` table of SMG clips in Leedeng/Visual-Text-MG,
  Sample_data/Clip_label.csv (code of "Enhancing Micro Gesture Recognition for Emotion
  Understanding via Context-aware Visual-Text Contrastive Learning", which evaluates on SMG).
- iMiGUE: the `label_encodings` table (ids 1..32) of a public MiGA/iMiGUE training script
  found by its contents in a code search; it follows the category figure of the iMiGUE paper
  (Liu et al., CVPR 2021) but could not be checked against the paper's own text here, so it
  is the best list found rather than an authoritative one. Obvious typos of that table are
  corrected ("Scraching" -> "Scratching", "botton" -> "button", "Dustoffing" -> "Dusting
  off", "Puttting" -> "Putting").
Override either with `fgsgl import ... --classes FILE` when you hold the official list.
"""

from __future__ import annotations

IMIGUE_CLASSES: tuple[str, ...] = (
    "Turtle neck",
    "Bulging face or deep breath",
    "Touching hat",
    "Touching or scratching head",
    "Touching or scratching forehead",
    "Covering face",
    "Rubbing eyes",
    "Touching or scratching facial parts",
    "Touching ears",
    "Biting nails",
    "Touching jaw",
    "Touching or scratching neck",
    "Playing or adjusting hair",
    "Buckling button, pulling shirt collar or adjusting tie",
    "Touching or covering suprasternal notch",
    "Scratching back",
    "Folding arms",
    "Dusting off clothes",
    "Putting arms behind body",
    "Moving torso",
    "Sitting straightly",
    "Scratching or touching arms",
    "Rubbing or holding hands",
    "Crossing fingers",
    "Minaret gesture",
    "Playing or manipulating objects",
    "Holding back arms",
    "Head up",
    "Pressing lips",
    "Arms akimbo",
    "Shaking shoulders",
    "Illustrative hand gestures",
)

# iMiGUE's label files mark stretches without a micro-gesture with id 99.
IMIGUE_NON_GESTURE_ID = 99
IMIGUE_NON_GESTURE_NAME = "Non-gesture"

SMG_CLASSES: tuple[str, ...] = (
    "Turtling neck and shoulder",
    "Rubbing eyes and forehead",
    "Folding arms",
    "Touching or covering suprasternal notch",
    "Moving legs",
    "Touching or scratching neck",
    "Folding arms behind body",
    "Rubbing hands and crossing fingers",
    "Arms akimbo",
    "Crossing legs",
    "Scratching some part of body",
    "Scratching or touching facial parts other than eyes",
    "Playing or adjusting hair",
    "Holding arms",
    "Pulling shirt collar",
    "Playing with jewelry and manipulating other objects",
    "Illustrative hand gestures",
)
