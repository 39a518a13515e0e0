"""Export SAM-family checkpoints (MedicoSAM, SAM ViT-B, MedSAM) to the ONNX model folders the
TypeScript engine loads. Runs in the conda environment of environment.yml; see export_sam.py."""

__all__ = ["registry", "checksums", "download", "checkpoint", "onnx_export", "manifest", "verify"]
