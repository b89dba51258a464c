"""Energy stage: operation counts from measured activity, priced with hardware profiles, against ANN baselines.

Imports no simulator and no hardware SDK. Modules, one job each:

- ``analytic``   paper 2 Table 2 and paper 1 §4.2 formulas; ANN baselines by equation;
- ``counting``   per-layer, per-step counts from a network IR + an activity file (pure functions);
- ``onnx_count`` operation counts of any ONNX graph (unsupported ops listed, never skipped);
- ``baselines``  ``--baseline`` specs: gru|rnn|mlp|libru[:LxH], checkpoint .pt, .onnx;
- ``pricing``    profile energy sections -> price ranges; SNN/ANN energies; optional memory term;
- ``record``     the report record (``build_report``);
- ``report``     its writers: energy.json, energy.md, the headline; ``plots`` its figures;
- ``api``        ``snn_deploy.energy(network, activity, ...)``: the report in memory; runs on disk counted;
- ``cli``        ``snn-deploy energy``: runs on disk -> ``api`` -> the report directory.
"""

from snn_deploy.stage import make_callable as _make_callable

# ``snn_deploy.energy(...)`` is the Python API's ``energy`` (see snn_deploy/stage.py).
_make_callable(__name__, "snn_deploy.energy.api:energy")
