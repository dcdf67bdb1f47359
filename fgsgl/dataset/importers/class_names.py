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

# MA-52 (Micro-Action-52; Guo et al., "Benchmarking Micro-action Recognition: Dataset,
# Methods, and Applications", IEEE TCSVT 2024). Source (read 2026): the `id<TAB>name`
# label map of the dataset's own repository, VUT-HFUT/Micro-Action,
# mar_scripts/manet/mmaction2/data/ma52/label_name.txt (ids 0..51, the labels of its
# train/val/test_list_videos.txt in the same folder); the same 52 names in the same order
# are car-ops/MULTI-LABEL_MICRO-ACTION_DETECTION_MAC_2024, data/annotations/category_idx.txt.
# Names as written there, lower case ("spread legs" included). Unlike the lists above,
# index i is the source's own 0-based label id.
MA52_CLASSES: tuple[str, ...] = (
    "shaking body",
    "sitting straightly",
    "shrugging",
    "turning around",
    "rising up",
    "bowing head",
    "head up",
    "tilting head",
    "turning head",
    "nodding",
    "shaking head",
    "scratching arms",
    "playing objects",
    "putting hands together",
    "rubbing hands",
    "pointing oneself",
    "clenching fist",
    "stretching arms",
    "retracting arms",
    "waving",
    "spreading hands",
    "hands touching fingers",
    "other finger movements",
    "illustrative gestures",
    "shaking legs",
    "curling legs",
    "spread legs",
    "closing legs",
    "crossing legs",
    "stretching feet",
    "retracting feet",
    "tiptoe",
    "scratching or touching neck",
    "scratching or touching chest",
    "scratching or touching back",
    "scratching or touching shoulder",
    "arms akimbo",
    "crossing arms",
    "playing or tidying hair",
    "scratching or touching hindbrain",
    "scratching or touching forehead",
    "scratching or touching face",
    "rubbing eyes",
    "touching nose",
    "touching ears",
    "covering face",
    "covering mouth",
    "pushing glasses",
    "patting legs",
    "touching legs",
    "scratching legs",
    "scratching feet",
)

# MA-52's seven body parts (its coarse labels) and the action ids of each: the id ranges of
# `fine2coarse` in VUT-HFUT/Micro-Action, mar_scripts/manet/mmaction2/online_evaluation/
# eval.py (0-4, 5-10, 11-23, 24-31, 32-37, 38-47, 48-51). The group names follow the
# paper's seven body parts as others cite them; that repository's files give only the ids.
MA52_BODY_PARTS: tuple[str, ...] = (
    "body",
    "head",
    "upper limb",
    "lower limb",
    "body-hand",
    "head-hand",
    "leg-hand",
)
MA52_BODY_PART_OF: tuple[int, ...] = (
    (0,) * 5 + (1,) * 6 + (2,) * 13 + (3,) * 8 + (4,) * 6 + (5,) * 10 + (6,) * 4
)
