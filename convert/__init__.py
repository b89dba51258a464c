"""Conversion stage: quantize the float network IR to a hardware profile's fixed point, the batched integer emulator, exports (netx, NIR, ONNX).

``pipeline.convert`` (``snn_deploy.convert(...)``) does the conversion in memory; ``write`` writes OUT/;
``cli`` parses the command line."""

from snn_deploy.stage import make_callable as _make_callable

# ``snn_deploy.convert(...)`` is the Python API's ``convert`` (see snn_deploy/stage.py).
_make_callable(__name__, "snn_deploy.convert.pipeline:convert")
