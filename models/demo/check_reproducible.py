#!/usr/bin/python3
"""Proves that a change to the training code keeps the `--steps` recipes of TRAINING.md
drawing the same prompts, the same random numbers and the same losses.

    /usr/bin/python3 models/demo/check_reproducible.py --data .cache/demo-small --val .cache/demo-small-val \
        --init .cache/demo-shipped/weights.pt --out .cache/repro/before.json
    (change the code)
    /usr/bin/python3 models/demo/check_reproducible.py ... --out .cache/repro/after.json --against .cache/repro/before.json

For each recipe (steps 1 and 6 of TRAINING.md by default) it runs train.py's own `main()` in a
fresh interpreter on one thread, with the recipe's flags and `--stop-at --steps` so that the
learning-rate schedule is the recorded run's, and records after every optimizer step:
the state of every numpy Generator the run created, torch's RNG state, the loss, the gradient
norm and a hash of the parameters, and a hash of every decoder call's prompt tensors (points,
labels, mask input, has-mask flag: every start, correction, rollout hop) and of the encoder's
input images (augmentation). The Python-side validation at the end is recorded the same way,
and so is training.json without its timings. It hooks only what any version of the training
code must call (numpy's default_rng, model.py's Encoder256/Decoder, AdamW.step,
Tensor.backward, clip_grad_norm_), so the digest of the code before a change and after it
can be compared. Identical digests mean identical prompt and RNG streams; the first
difference is printed otherwise.

The step-6 recipe continues from --init (the shipped weights recovered by
weights_from_onnx.py); step 1 starts from scratch, as it did. Floating-point results (and so
the corrections drawn from the model's own masks) are those of this machine's PyTorch: compare
digests recorded on one machine.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# The recipe flags of TRAINING.md's "six steps" (steps 1 and 6 by default: step 1 is the plain
# loop, step 6 every item kind: pairs, rollouts, ending and displaced items, the "nothing" loss).
RECIPES = {
    "1": ["--steps", "1479", "--lr", "2e-3", "--ending", "0", "--prop-perturb", "0"],
    "2": ["--steps", "1661", "--lr", "1e-3", "--prop-perturb", "0"],
    "3": ["--steps", "945", "--lr", "7e-4", "--seed", "20240613", "--ending", "1.0", "--prop-perturb", "0.8"],
    "4": ["--steps", "1432", "--lr", "7e-4", "--seed", "20241207", "--pairs", "0.5", "--hops", "3", "--ending", "1.0",
          "--prop-perturb", "0.8", "--no-correction", "0.3", "--kind-p", "0.2,0.35,0.15,0.1,0.2"],
    "5": ["--steps", "1036", "--lr", "5e-4", "--seed", "20241208", "--pairs", "0.5", "--hops", "3", "--ending", "1.0",
          "--prop-perturb", "0.8", "--displaced", "0.7", "--no-correction", "0.3", "--kind-p", "0.2,0.35,0.15,0.1,0.2"],
    "6": ["--steps", "660", "--lr", "5e-4", "--seed", "20241215", "--pairs", "0.5", "--hops", "3", "--ending", "1.0",
          "--prop-perturb", "0.8", "--displaced", "0.7", "--no-correction", "0.3", "--kind-p", "0.2,0.35,0.15,0.1,0.2",
          "--absent-weight", "0.3"],
}
FROM_SCRATCH = {"1"}
# training.json fields that hold wall-clock time or paths, not the run's content.
UNTIMED = {"train_minutes", "total_minutes", "load_seconds", "minutes", "data", "init", "continued_from"}


def sha(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(tuple(a.shape)).encode())
        h.update(a.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def run_one(argv):
    """In a fresh interpreter: hooks, then train.main() with `argv`; prints the digest as JSON."""
    import numpy as np
    import torch

    sys.path.insert(0, HERE)
    import model
    import train

    generators = []
    real_default_rng = np.random.default_rng

    def default_rng(*a, **k):
        g = real_default_rng(*a, **k)
        generators.append(g)
        return g

    np.random.default_rng = default_rng

    current = {"decoder": [], "encoder": [], "loss": [], "grad_norm": []}
    steps = []
    params = []

    def record(into):
        into.update({k: v for k, v in current.items()})
        into["np_rng"] = [str(g.bit_generator.state["state"]) for g in generators]
        into["torch_rng"] = hashlib.sha256(torch.get_rng_state().numpy().tobytes()).hexdigest()[:16]
        for k in current:
            current[k] = []

    real_forward_features = model.Decoder.forward_features

    def forward_features(self, coarse, fine, coords, labels, mask_input, has_mask):
        current["decoder"].append(f"{tuple(coords.shape)} {sha(coords, labels, mask_input, has_mask)}")
        return real_forward_features(self, coarse, fine, coords, labels, mask_input, has_mask)

    model.Decoder.forward_features = forward_features

    real_encoder_forward = model.Encoder256.forward

    def encoder_forward(self, x):
        current["encoder"].append(sha(x))
        return real_encoder_forward(self, x)

    model.Encoder256.forward = encoder_forward

    real_backward = torch.Tensor.backward

    def backward(self, *a, **k):
        current["loss"].append(float(self).hex())
        return real_backward(self, *a, **k)

    torch.Tensor.backward = backward

    real_clip = torch.nn.utils.clip_grad_norm_

    def clip(ps, *a, **k):
        ps = list(ps)
        params[:] = ps
        n = real_clip(ps, *a, **k)
        current["grad_norm"].append(float(n).hex())
        return n

    torch.nn.utils.clip_grad_norm_ = clip

    real_step = torch.optim.AdamW.step

    def step(self, *a, **k):
        out = real_step(self, *a, **k)
        rec = {"step": len(steps) + 1}
        record(rec)
        rec["params"] = sha(*params)
        steps.append(rec)
        return out

    torch.optim.AdamW.step = step

    out_dir = argv[argv.index("--out") + 1]
    sys.argv = ["train.py"] + argv
    train.main()
    evaluation = {}
    record(evaluation)  # what ran after the last step: the validation's prompts and RNG
    with open(os.path.join(out_dir, "training.json")) as f:
        rec = json.load(f)
    rec = {k: v for k, v in rec.items() if k not in UNTIMED}
    rec["log"] = [{k: v for k, v in e.items() if k not in UNTIMED} for e in rec.get("log", [])]
    return {"steps": steps, "after_training": evaluation, "training_json": rec}


def compare(name, a, b):
    """The first difference between two recipe digests, or None."""
    for i, (x, y) in enumerate(zip(a["steps"], b["steps"])):
        for k in sorted(set(x) | set(y)):
            if x.get(k) != y.get(k):
                return f"recipe {name}: step {i + 1} differs first in {k!r}: {x.get(k)!r:.200} vs {y.get(k)!r:.200}"
    if len(a["steps"]) != len(b["steps"]):
        return f"recipe {name}: {len(a['steps'])} vs {len(b['steps'])} steps"
    for k in ("after_training", "training_json"):
        if a[k] != b[k]:
            return f"recipe {name}: {k} differs"
    return None


def digest_hash(d):
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="a (small) training set written by training-set.ts")
    ap.add_argument("--val", help="a (small) validation set; its evaluation is then part of the digest")
    ap.add_argument("--init", help="weights the continued recipes start from (weights_from_onnx.py's output)")
    ap.add_argument("--steps", type=int, default=20, help="optimizer steps per recipe (--stop-at)")
    ap.add_argument("--recipes", default="1,6", help="which of TRAINING.md's steps, comma-separated")
    ap.add_argument("--out", required=True, help="where the digest (JSON) is written")
    ap.add_argument("--against", help="an earlier digest to compare with; exit status 1 if they differ")
    ap.add_argument("--run-one", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run_one is not None:
        json.dump(run_one(args.run_one), sys.stdout)
        return

    digest = {}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    for name in args.recipes.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            argv = ["--data", args.data, "--out", tmp, "--checkpoint", os.path.join(tmp, "weights.pt"),
                    "--threads", "1", "--stop-at", str(args.steps)] + RECIPES[name]
            if args.val:
                argv += ["--val", args.val]
            if name not in FROM_SCRATCH:
                if not args.init:
                    ap.error(f"recipe {name} continues from weights: give --init")
                argv += ["--init", args.init]
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--data", args.data, "--out", tmp, "--run-one"] + argv,
                                  env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                raise SystemExit(f"recipe {name} failed")
            # train.py's own progress lines come first; the digest is the last line.
            d = json.loads(proc.stdout.rstrip().splitlines()[-1])
            digest[name] = d
            n_calls = sum(len(s["decoder"]) for s in d["steps"])
            print(f"recipe {name}: {len(d['steps'])} steps, {n_calls} decoder calls, "
                  f"loss at step {len(d['steps'])} {float.fromhex(d['steps'][-1]['loss'][-1]):.6f}, digest {digest_hash(d)}", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(digest, f, indent=1)
    if args.against:
        with open(args.against) as f:
            ref = json.load(f)
        diffs = [compare(n, ref[n], digest[n]) for n in digest if n in ref]
        diffs = [d for d in diffs if d]
        missing = [n for n in digest if n not in ref]
        for d in diffs:
            print("DIFFERENT:", d)
        if missing:
            print(f"not in {args.against}: recipes {', '.join(missing)}")
        if diffs or missing:
            raise SystemExit(1)
        print(f"identical to {args.against}: prompts, RNG states, losses, gradients, parameters, validation")


if __name__ == "__main__":
    main()
