"""The image methods: Trainer mix steps, one cell of the protocol, a resumable session.

- the mix steps ``PlainStep``, ``MixupStep`` (mixup, manifold mixup, CutMix),
  ``GenLabelStep`` (Algorithm 3: online class Gaussians on the features), ``AdaMixupStep``,
  and ``build_step`` by method name, re-exported from :mod:`genlabel.training.steps`;
- :mod:`~genlabel.images.experiment`: ``ImageSettings`` and ``run_image_cell`` (train with
  the Trainer, evaluate accuracy, calibration, robust accuracy);
- :mod:`~genlabel.images.session`: ``ImageSession`` (plan, run, report into the result
  store of ``genlabel bench``), behind ``genlabel images``;
- :mod:`~genlabel.images.distributed`: the process group under ``torchrun``.
"""

# The same names as images/steps.py re-exports: the old import paths keep working.
from ..training.steps import (
    MIXES,
    AdaMixupPolicy,
    AdaMixupStep,
    GenLabelStep,
    MixupStep,
    PlainStep,
    build_step,
    manifold_layers,
)
from .distributed import close_distributed, init_distributed, is_main_process
from .experiment import (
    ImageError,
    ImageSettings,
    load_image_data,
    predict_proba,
    run_image_cell,
)
from .session import ImageSession

__all__ = [
    "MIXES",
    "AdaMixupPolicy",
    "AdaMixupStep",
    "GenLabelStep",
    "ImageError",
    "ImageSession",
    "ImageSettings",
    "MixupStep",
    "PlainStep",
    "build_step",
    "close_distributed",
    "init_distributed",
    "is_main_process",
    "load_image_data",
    "manifold_layers",
    "predict_proba",
    "run_image_cell",
]
