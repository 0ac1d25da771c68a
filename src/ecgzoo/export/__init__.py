"""Exporting trained models (ONNX)."""
