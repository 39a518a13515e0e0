#!/usr/bin/python3
"""Train the demo model on phantoms written by models/demo/training-set.ts, then export it.

    npx tsx models/demo/training-set.ts --out .cache/demo-train            # training slices
    npx tsx models/demo/training-set.ts --out .cache/demo-val --seed-base 300000 --anatomies 24
    /usr/bin/python3 models/demo/train.py --data .cache/demo-train --val .cache/demo-val \
        --out models/demo --minutes 30          # or --steps N to repeat a recorded run

Needs Debian's python3-torch (1.13), python3-scipy, python3-pil, python3-numpy,
python3-onnx and libopenblas0-openmp. CPU only; one thread by default (on a 2-core machine shared
with other work, 2 threads were slower: they wait for each other).

This file is the command line; the work is in data.py (the training set, the image and mask
paths), prompts.py (what each step prompts), losses.py, training.py (the loop, validation,
checkpoint, export), with the flags gathered once in config.TrainConfig.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from config import DEFAULT_KIND_P, DEFAULT_PROP_PERTURB, KINDS, TrainConfig  # noqa: E402
from data import load_set  # noqa: E402
from training import evaluate, export, save_checkpoint, train  # noqa: E402


def parser():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--val")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--minutes", type=float)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--objects", type=int, default=3)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--threads", type=int, default=1, help="1 was faster than 2 on a shared 2-core machine")
    ap.add_argument("--eval-every", type=int, default=0)
    ap.add_argument("--ending", type=float, default=0.3, help="per step, probability of one item where the object has ended (propagation must stop)")
    ap.add_argument("--prop-perturb", type=float, default=DEFAULT_PROP_PERTURB, help="probability that a propagation prompt's mask is grown or shrunk by 1-4 px")
    ap.add_argument("--no-correction", type=float, default=0.5, help="probability of a step without correction rounds")
    ap.add_argument("--pairs", type=float, default=0.0, help="probability that a step's images are pairs of neighbouring slices, with propagation rollouts from the model's own masks")
    ap.add_argument("--hops", type=int, default=3, help="rollout hops per pair step (A->B, B->A, A->B, ...)")
    ap.add_argument("--kind-p", default=",".join(str(p) for p in DEFAULT_KIND_P), help="probabilities of the start prompts " + "/".join(KINDS))
    ap.add_argument("--displaced", type=float, default=0.0, help="per step, probability of one propagation item whose mask prompt was moved off its object (answer: what is under it, or nothing)")
    ap.add_argument("--absent-weight", type=float, default=0.0, help="weight of the box-averaged BCE on items whose answer is nothing (see absent_loss)")
    ap.add_argument("--stop-at", type=int, default=0, help="stop at this step, the schedule still spanning --steps (repeats a run that was cut short)")
    ap.add_argument("--save-every", type=float, default=0, help="also save the checkpoint every this many minutes")
    ap.add_argument("--checkpoint", default=".cache/demo-weights.pt", help="where the PyTorch weights are saved")
    ap.add_argument("--init", help="start from these weights (a --checkpoint of an earlier run)")
    return ap


def training_record(cfg, record, started):
    """training.json: the loop's record, the recipe, and the record of the run this one continued."""
    record.update({
        "seed": cfg.seed, "batch_images": cfg.batch, "objects_per_image": cfg.objects, "lr": cfg.lr,
        "threads": cfg.threads, "ending": cfg.ending, "prop_perturb": cfg.prop_perturb, "no_correction": cfg.no_correction, "pairs": cfg.pairs, "hops": cfg.hops, "displaced": cfg.displaced, "absent_weight": cfg.absent_weight, "prompt_kinds": dict(zip(KINDS, cfg.kind_p)), "correction_rounds": f"0 (p={cfg.no_correction}) else 1-3",
        "optimizer": "AdamW, weight decay 1e-4, warm-up 100 steps, cosine decay, grad clip 1.0",
        "loss": "BCE + soft Dice per token (token 0 always; tokens 1-3 for point-only prompts: object, class, body) + MSE of IoU" + (f" + {cfg.absent_weight} x box-averaged BCE on clean 'nothing' items (absent_loss)" if cfg.absent_weight else ""),
        "torch": torch.__version__, "total_minutes": round((time.time() - started) / 60, 1),
        "data": os.path.abspath(cfg.data), "init": cfg.init,
    })
    if cfg.init:
        # The record of the run this one continued, so training.json tells the whole story.
        prev = os.path.join(os.path.dirname(os.path.abspath(cfg.init)), "training.json")
        if os.path.exists(prev):
            with open(prev) as f:
                record["continued_from"] = json.load(f)
    return record


def main():
    ap = parser()
    args = ap.parse_args()
    if not args.steps and not args.minutes:
        ap.error("give --steps N or --minutes M")
    cfg = TrainConfig.from_args(args)
    if len(cfg.kind_p) != len(KINDS) or abs(sum(cfg.kind_p) - 1) > 1e-6:
        ap.error(f"--kind-p needs {len(KINDS)} probabilities ({'/'.join(KINDS)}) that sum to 1")
    t0 = time.time()
    enc, dec, record = train(cfg)
    save_checkpoint(enc, dec, cfg.checkpoint)
    record["validation"] = evaluate(enc, dec, load_set(cfg.val)[1], cfg.seed) if cfg.val else None
    export(enc, dec, cfg.out)
    record = training_record(cfg, record, t0)
    with open(os.path.join(cfg.out, "training.json"), "w") as f:
        json.dump(record, f, indent=1)
    print(json.dumps({k: v for k, v in record.items() if k != "log"}), flush=True)


if __name__ == "__main__":
    main()
