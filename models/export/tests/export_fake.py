"""Exports FakeSam through export_sam.export_folder into the folder given as argv[1] and writes
PyTorch's outputs for fixed inputs next to it (torch-reference/), for tests/export.test.ts to
compare with onnxruntime-node and the TypeScript engine. Needs PyTorch and onnx only."""

import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import export_sam  # noqa: E402
from fake_sam import FakeOnnxDecoder, FakeSam  # noqa: E402


def main(out: Path) -> None:
    sam = FakeSam(seed=0).eval()
    manifest = export_sam.export_folder(
        sam, out, name="fake-sam", title="FakeSam (tests)", origin="models/export/tests/fake_sam.py",
        checkpoint_file="none", checksums={"sha256": "0" * 64}, architecture="fake",
        decoder_factory=FakeOnnxDecoder, verify_fn=None, versions={"torch": torch.__version__})
    ref = out.parent / "torch-reference"
    ref.mkdir(exist_ok=True)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 3, 1024, 1024, generator=g)
    with torch.no_grad():
        emb = sam.image_encoder(x)
        dec = FakeOnnxDecoder(sam)
        inputs = {
            "point_coords": torch.tensor([[[300.0, 400.0], [520.0, 410.0], [0.0, 0.0]]]),
            "point_labels": torch.tensor([[1.0, 0.0, -1.0]]),
            "mask_input": torch.zeros(1, 1, 256, 256),
            "has_mask_input": torch.zeros(1),
            "orig_im_size": torch.tensor([320.0, 384.0]),
        }
        masks, iou, low = dec(emb, **inputs)
    arrays = {"x": x, "embedding": emb, "masks": masks, "iou": iou, "low_res": low, **inputs}
    meta = {}
    for k, v in arrays.items():
        a = v.numpy().astype(np.float32)
        a.tofile(ref / f"{k}.f32")
        meta[k] = list(a.shape)
    (ref / "shapes.json").write_text(json.dumps(meta))
    print(json.dumps({"manifest": manifest}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
