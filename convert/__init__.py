"""Conversion stage: quantize the float network IR to a hardware profile's fixed point, the batched integer emulator, exports (netx, NIR, ONNX)."""
