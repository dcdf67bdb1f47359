"""fgsgl: micro-gesture recognition with fine-grained semantic guidance (FG-SGL).

The library computes; components/ and pipelines/ (shipped as fgsgl.components and
fgsgl.pipelines) wrap it for Kubeflow. Nothing here imports kfp.
"""

import importlib as _importlib
from typing import Any as _Any

__version__ = "0.5.0"

# Lazy (PEP 562), as fgsgl.train's: `import fgsgl` must not load torch.
#   model = fgsgl.load_model("runs/.../model")   # a trained model artifact, eval mode
_EXPORTS = {"load_model": ("fgsgl.train.artifact", "load_pretrained")}


def __getattr__(name: str) -> _Any:
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        return getattr(_importlib.import_module(module), attribute)
    raise AttributeError(f"module 'fgsgl' has no attribute {name!r}")
