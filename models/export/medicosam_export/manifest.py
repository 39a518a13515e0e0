"""model.json for an exported folder: what the TypeScript side reads (kernel/sam/manifest.ts:
name, source, encoder/decoder files with sha256, numMasks, preprocessing) plus the record of
where the weights came from and how they were checked."""

import json
import os
from pathlib import Path
from typing import Optional

DEFAULT_PREPROCESSING = {
    "imageSize": 1024,
    "pixelMean": [123.675, 116.28, 103.53],
    "pixelStd": [58.395, 57.12, 57.375],
    "intensity": {"mode": "minmax"},
}


def source_line(title: str, checkpoint_origin: str, checksums: dict) -> str:
    sums = ", ".join(f"{a} {d}" for a, d in sorted(checksums.items()))
    return f"{title}; checkpoint {checkpoint_origin} ({sums}); exported by models/export/export_sam.py"


def build_manifest(*, name: str, title: str, checkpoint_origin: str, checkpoint_file: str, checkpoint_checksums: dict,
                   encoder_sha256: str, decoder_sha256: str, encoder_io: dict, decoder_io: dict,
                   preprocessing: Optional[dict] = None, notice: Optional[str] = None, architecture: str = "vit_b",
                   licence: Optional[str] = None, versions: Optional[dict] = None,
                   verification: Optional[dict] = None) -> dict:
    iou = next((o for o in decoder_io["outputs"] if o["name"] == "iou_predictions"), None)
    num_masks = iou["shape"][1] if iou and len(iou["shape"]) == 2 and isinstance(iou["shape"][1], int) else None
    if num_masks not in (1, 4):
        raise ValueError(f"the decoder's iou_predictions has shape {iou and iou['shape']}; expected [1, 4]")
    enc_in = encoder_io["inputs"][0]["name"] if encoder_io["inputs"] else None
    enc_out = encoder_io["outputs"][0]["name"] if encoder_io["outputs"] else None
    manifest = {
        "name": name,
        **({"notice": notice} if notice else {}),
        "source": source_line(title, checkpoint_origin, checkpoint_checksums),
        "encoder": {"file": "encoder.onnx", "sha256": encoder_sha256, "input": enc_in, "output": enc_out},
        "decoder": {"file": "decoder.onnx", "sha256": decoder_sha256, "numMasks": num_masks},
        "preprocessing": preprocessing or DEFAULT_PREPROCESSING,
        "checkpoint": {"origin": checkpoint_origin, "file": checkpoint_file, "architecture": architecture,
                       **{k: v for k, v in sorted(checkpoint_checksums.items())}},
        "onnx": {"encoder": encoder_io, "decoder": decoder_io},
    }
    if licence:
        manifest["licence"] = licence
    if versions:
        manifest["exportedWith"] = versions
    if verification:
        manifest["verification"] = verification
    return manifest


def write_manifest(folder: Path, manifest: dict) -> Path:
    """Written last and atomically: a folder with model.json is a complete folder."""
    path = Path(folder) / "model.json"
    tmp = path.with_name(f"model.json.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
