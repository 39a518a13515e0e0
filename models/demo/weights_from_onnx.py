#!/usr/bin/python3
"""Recover the PyTorch weights of the shipped demo model from its ONNX files.

    /usr/bin/python3 models/demo/weights_from_onnx.py --model models/demo --out .cache/demo-shipped/weights.pt

Training checkpoints live in the git-ignored .cache, so on a fresh clone the only copy of the
shipped weights is the ONNX pair. To continue training from them (train.py --init), this maps
every ONNX initializer back to the parameter it came from: it exports a probe model whose
parameters hold distinct random values through training.py's export (same code, same PyTorch,
so the same graph and initializer names), finds each parameter's values among the probe's
initializers (constant folding may have reshaped them, e.g. GroupNorm's scale is unsqueezed),
and copies the shipped initializer of that name into it. It then re-exports the recovered
weights and checks that every initializer equals the shipped one, so a wrong mapping cannot
pass silently.
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Decoder, Encoder256  # noqa: E402
from training import export, save_checkpoint  # noqa: E402


def initializers(path):
    """Initializers by name, including the names the exporter turned into Identity nodes: it keeps
    one copy of equal tensors (e.g. two biases added to one sum get equal gradients, so they
    stay equal when they start equal) and aliases the others."""
    g = onnx.load(path).graph
    out = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Identity" and n.input[0] in out:
            out[n.output[0]] = out[n.input[0]]
    return out


def exported(enc, dec):
    with tempfile.TemporaryDirectory() as tmp:
        export(enc, dec, tmp)
        return {part: initializers(os.path.join(tmp, f"{part}.onnx")) for part in ("encoder", "decoder")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    torch.manual_seed(0)
    enc, dec = Encoder256(), Decoder()
    modules = {"encoder": enc, "decoder": dec}
    with torch.no_grad():
        for m in modules.values():
            for p in m.parameters():
                p.copy_(torch.rand_like(p) + 0.5)  # distinct, non-zero, no sign ambiguity
    probe = exported(enc, dec)
    shipped = {part: initializers(os.path.join(args.model, f"{part}.onnx")) for part in modules}

    for part, m in modules.items():
        by_values = {}
        for name, arr in probe[part].items():
            if arr.dtype == np.float32 and arr.size > 0:
                by_values.setdefault(arr.reshape(-1)[:8].tobytes(), []).append(name)
        with torch.no_grad():
            for pname, p in m.named_parameters():
                flat = p.detach().numpy().reshape(-1)
                names = [n for n in by_values.get(flat[:8].tobytes(), []) if np.array_equal(probe[part][n].reshape(-1), flat)]
                if not names:
                    raise SystemExit(f"{part}.{pname}: not found among the probe export's initializers (did model.py change since the ONNX was exported?)")
                src = shipped[part].get(names[0])
                if src is None or src.size != p.numel():
                    raise SystemExit(f"{part}.{pname}: initializer {names[0]} missing or of another size in {args.model}/{part}.onnx")
                p.copy_(torch.from_numpy(src.reshape(p.shape).copy()))

    again = exported(enc, dec)
    for part in modules:
        for name, arr in shipped[part].items():
            if name not in again[part] or not np.array_equal(again[part][name], arr):
                raise SystemExit(f"check failed: {part}.onnx initializer {name} differs after recovery, so the name mapping is wrong for this model.py / PyTorch; nothing was written. Train from an earlier checkpoint (train.py --init) instead.")
    save_checkpoint(enc, dec, args.out)
    n = sum(len(v) for v in shipped.values())
    print(f"recovered {sum(1 for m in modules.values() for _ in m.parameters())} parameters; all {n} initializers of the re-export equal the shipped ones; wrote {args.out}")


if __name__ == "__main__":
    main()
