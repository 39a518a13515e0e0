#!/usr/bin/python3
"""Export a training checkpoint (train.py --checkpoint, also written every --save-every minutes)
as an ONNX model folder, so a run can be scored while it goes on or after it was cut:

    /usr/bin/python3 models/demo/export_checkpoint.py --checkpoint .cache/demo-step7/weights.pt --out .cache/demo-step7-m30
    npx tsx models/demo/manifest.ts .cache/demo-step7-m30
    npx tsx models/demo/evaluate.ts --model .cache/demo-step7-m30        # held-out phantoms
    npx tsx models/demo/evaluate-shapes.ts --model .cache/demo-step7-m30 # the independent family

train.py exports only at the end of a run; this is the same export (training.py's `export`) of
the weights a checkpoint holds.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Decoder, Encoder256  # noqa: E402
from training import export  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True, help="a weights.pt written by train.py")
    ap.add_argument("--out", required=True, help="folder for encoder.onnx and decoder.onnx")
    args = ap.parse_args()
    if not os.path.exists(args.checkpoint):
        ap.error(f"{args.checkpoint} does not exist (train.py writes it at --save-every and at the end)")
    torch.set_num_threads(1)
    state = torch.load(args.checkpoint)
    enc, dec = Encoder256(), Decoder()
    enc.load_state_dict(state["encoder"])
    dec.load_state_dict(state["decoder"])
    os.makedirs(args.out, exist_ok=True)
    export(enc, dec, args.out)
    print(f"exported {args.checkpoint} -> {args.out}/encoder.onnx, decoder.onnx (now run manifest.ts on it)")


if __name__ == "__main__":
    main()
