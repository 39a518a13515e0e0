"""Writes tests/fixtures/onnx/sam-vit-tiny-torch.onnx: segment_anything's own ImageEncoderViT at a
tiny size (random weights, random relative-position tables), exported by this folder's
`export_encoder` (torch.onnx, opset 17), so that the TypeScript graph optimizer is tested on the
layout torch.onnx really produces (run-time shape arithmetic included), not on a copy of it.

    python models/export/tests/make_vit_fixture.py     # in the conda env of environment.yml

Configuration: 128x128 input, patch 16 (8x8 grid), width 32, 4 heads, depth 4, window 3 (the grid
is padded 8 -> 9 as in ViT-B's 64 -> 70), global attention in blocks 1 and 3, 16 output channels.
"""
import sys
from functools import partial
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
OUT = HERE.parents[2] / "tests" / "fixtures" / "onnx" / "sam-vit-tiny-torch.onnx"


def main() -> int:
    from segment_anything.modeling.image_encoder import ImageEncoderViT
    from medicosam_export.onnx_export import export_encoder

    torch.manual_seed(0)
    encoder = ImageEncoderViT(
        img_size=128, patch_size=16, embed_dim=32, depth=4, num_heads=4, mlp_ratio=4,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), qkv_bias=True, use_rel_pos=True,
        global_attn_indexes=[1, 3], window_size=3, out_chans=16)
    with torch.no_grad():  # SAM initialises the tables with zeros: make their terms matter
        for name, p in encoder.named_parameters():
            if "rel_pos" in name:
                p.normal_(0, 0.5)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    export_encoder(encoder, OUT, image_size=128)
    print(f"wrote {OUT} (torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
