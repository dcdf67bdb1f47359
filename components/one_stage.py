"""The one-stage branch's start (no ML-CO): a marker instead of a stage-1 model.

Without ML-CO there is no stage 1, yet stage 2 stays one task after the branches (fed
`dsl.OneOf(stage-1 model, this marker)`), so every variant's training and evaluation
tasks have the same names and the KFP compare view lines their metrics up.
"""

from kfp import dsl
from kfp.dsl import Model, Output

from fgsgl.components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def start_one_stage(init: Output[Model]) -> None:
    """Write the marker that tells stage 2 to train from the backbone (fgsgl.runtime.tasks).

    Args:
        init: the marker, in place of a stage-1 model.
    """
    from fgsgl.runtime.tasks import write_no_init

    write_no_init(init.path)
