"""The container images the components run in.

Read once, when the components are built: FGSGL_CPU_IMAGE and FGSGL_GPU_IMAGE override the
defaults (the tags `make images` gives, at this fgsgl version). `fgsgl compile --cpu-image /
--gpu-image` overrides them per compile. kfp.local's SubprocessRunner ignores the image and
runs the component in this Python environment.
"""

from __future__ import annotations

import os

from fgsgl import __version__

DEFAULT_CPU_IMAGE = f"fgsgl-cpu:{__version__}"
DEFAULT_GPU_IMAGE = f"fgsgl-gpu:{__version__}"

CPU_IMAGE = os.environ.get("FGSGL_CPU_IMAGE") or DEFAULT_CPU_IMAGE
GPU_IMAGE = os.environ.get("FGSGL_GPU_IMAGE") or DEFAULT_GPU_IMAGE
