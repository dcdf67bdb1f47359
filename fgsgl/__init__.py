"""fgsgl: micro-gesture recognition with fine-grained semantic guidance (FG-SGL).

The library computes; components/ and pipelines/ (shipped as fgsgl.components and
fgsgl.pipelines) wrap it for Kubeflow. Nothing here imports kfp.
"""

__version__ = "0.5.0"
