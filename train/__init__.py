"""Training stage: float PyTorch models of paper 1 (Bittar & Garner 2022) and paper 2 (Dampfhoffer et al.), ANN baselines, data, export to the network IR. Imports nothing from later stages and never Lava.

``api.train`` (``snn_deploy.train(...)``) is the Python API; ``cli`` the commands over it."""

from snn_deploy.stage import make_callable as _make_callable

# ``snn_deploy.train(...)`` is the Python API's ``train`` (see snn_deploy/stage.py).
_make_callable(__name__, "snn_deploy.train.api:train")
