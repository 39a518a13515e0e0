"""The training loop, its steps, the Python-side validation, checkpoints and the ONNX export.

A step draws a batch of slices (or of neighbouring slice pairs), items (objects, or "nothing")
in each image, their first prompts and 0-3 correction rounds of the paper's protocol, every
round supervised; on pair steps, rollouts from the model's own masks follow. The random draws
come in the order the shipped runs made them (check_reproducible.py proves it).
"""
import json
import math
import os
import time
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from config import KINDS
from data import (MIN_AREA, Slice, continuation, encoder_input, ending_candidates, keep_slices_with_objects, load_set,
                  lowres_to_original, neighbours)
from losses import absent_loss, dice_bce, hard_iou
from model import Decoder, DecoderOnnx, Encoder256, EncoderOnnx
from prompts import Item, Prompt, corrected_prompt, correction, deepest_point, displaced_item, first_prompt, rollout_prompt, tight_box


@dataclass
class TrainingSet:
    slices: List[Slice]  # the training slices that hold objects
    ends_pool: List[int]  # slices where an object of a neighbour has ended
    paired: List[int]  # slices with a neighbour of the same size
    val: Optional[List[Slice]]  # the validation slices (--val)


@dataclass
class Batch:
    picks: np.ndarray  # slice index per image
    pair_step: bool  # images are pairs of neighbouring slices [A, B, A, B, ...]; rollouts follow
    with_end: bool  # one item propagates an object into a slice where it has ended
    forced: dict  # image index -> object that must be among its items


@dataclass
class Targets:
    """[M,256,256] low-res targets of the items: object (tokens 0-1), its class (token 2), the body (token 3)."""
    obj: torch.Tensor
    cls: torch.Tensor
    body: torch.Tensor


@dataclass(eq=False)
class RolloutChain:
    """One object's propagation back and forth between the two slices of a pair."""
    image_a: int
    image_b: int
    slice_a: Slice
    slice_b: Slice
    target_a: np.ndarray
    target_b: np.ndarray  # the object's continuation in B; empty where it ended
    pred: np.ndarray  # the model's last mask of it, at the original size of the slice it is in


# ----------------------------------------------------------------------------- setup

def load_training_set(cfg):
    t_load = time.time()
    index, slices = load_set(cfg.data)
    slices = keep_slices_with_objects(slices)
    val = load_set(cfg.val)[1] if cfg.val else None
    ends_pool = [i for i, s in enumerate(slices) if ending_candidates(s, slices)]
    paired = [i for i, s in enumerate(slices) if neighbours(s, slices)]
    print(f"loaded {len(slices)} training slices ({len(ends_pool)} where a neighbour's object ends) in {time.time() - t_load:.0f} s", flush=True)
    return TrainingSet(slices, ends_pool, paired, val)


def nn_init_zero(p):
    with torch.no_grad():
        p.zero_()


def build_models(cfg):
    """Encoder and decoder, from --init if given."""
    enc, dec = Encoder256(), Decoder()
    if cfg.init:
        state = torch.load(cfg.init)
        enc.load_state_dict(state["encoder"])
        # Layers added since that run start from zero, so the network begins where it ended.
        missing = dec.load_state_dict(state["decoder"], strict=False).missing_keys
        for name, p in dec.named_parameters():
            if name in missing and name.startswith(Decoder.ZERO_ON_CONTINUE):
                nn_init_zero(p)
        print(f"continued from {cfg.init}; new decoder parameters: {missing} (those of ZERO_ON_CONTINUE start at zero)", flush=True)
    return enc, dec


def learning_rate(cfg, step, elapsed):
    """100 warm-up steps, then cosine decay over --steps or --minutes; None when the run is over."""
    progress = step / cfg.steps if cfg.steps else elapsed / (cfg.minutes * 60)
    if progress >= 1 or (cfg.stop_at and step >= cfg.stop_at):
        return None
    warm = min(1.0, (step + 1) / 100)
    return cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


# ----------------------------------------------------------------------------- a step's draws

def pair_picks(rng, slices, paired, ends_pool, batch, ending):
    """batch/2 pairs of neighbouring slices [A, B, A, B, ...]. With probability `ending` the first
    pair is one where an object of A has ended in B; that object is returned in `forced` so
    that it is among A's items (its rollout into B must draw nothing)."""
    picks, forced = [], {}
    with_end = bool(ends_pool) and rng.random() < ending
    for k in range(batch // 2):
        if k == 0 and with_end:
            b = ends_pool[int(rng.integers(len(ends_pool)))]
            cands = ending_candidates(slices[b], slices)
            ended = cands[int(rng.integers(len(cands)))]
            a = ended.neighbour
            forced[0] = ended.obj
        else:
            a = paired[int(rng.integers(len(paired)))]
            b = neighbours(slices[a], slices)[0]
        picks += [a, b]
    return np.array(picks), with_end, forced


def draw_batch(rng, cfg, ts):
    # (pair_step is only drawn when --pairs is given, so that older runs repeat with their own draws.)
    pair_step = cfg.pairs > 0 and rng.random() < cfg.pairs
    forced = {}
    if pair_step:
        picks, with_end, forced = pair_picks(rng, ts.slices, ts.paired, ts.ends_pool, cfg.batch, cfg.ending)
    else:
        picks = rng.choice(len(ts.slices), size=cfg.batch, replace=False)
        with_end = bool(ts.ends_pool) and rng.random() < cfg.ending
        if with_end:
            picks[0] = ts.ends_pool[int(rng.integers(len(ts.ends_pool)))]
    return Batch(picks, pair_step, with_end, forced)


def image_items(rng, cfg, slices, batch, bi, s):
    """The items of image `bi` (slice s): up to --objects of its objects; the first one replaced
    by an ended object's propagation on an ending step, the second by a moved mask on a
    --displaced step."""
    objs = s.objects
    picked = [objs[oi] for oi in rng.choice(len(objs), size=min(cfg.objects, len(objs)), replace=False)]
    if bi in batch.forced and batch.forced[bi] not in picked:
        picked[0] = batch.forced[bi]  # the object that ends in the partner slice: its rollout must stop
    ends = ending_candidates(s, slices) if (batch.with_end and bi == 0 and not batch.pair_step) else []
    displaced = bi == 1 and cfg.displaced > 0 and rng.random() < cfg.displaced
    items = []
    for k, o in enumerate(picked):
        if k == 1 and displaced:
            items.append(displaced_item(rng, bi, s, s.object_mask(o), o.label))
        elif k == 0 and ends:
            # Propagation into a slice where the object has ended: the answer is "nothing".
            ended = ends[int(rng.integers(len(ends)))]
            items.append(Item(bi, s, ended.label, np.zeros_like(ended.mask_there), propagated=ended.mask_there))
        else:
            items.append(Item(bi, s, o.label, s.object_mask(o)))
    return items


def draw_images_and_items(rng, cfg, slices, batch):
    """The encoder input of every image (intensity augmentation on 60 %) and all items."""
    xs = []
    items = []
    for bi, si in enumerate(batch.picks):
        s = slices[si]
        aug = None
        if rng.random() < 0.6:
            aug = (rng.uniform(0.85, 1.15), rng.uniform(-12, 12), rng.uniform(0.8, 1.25))
        xs.append(encoder_input(s.pooled, s.resized_height, s.resized_width, aug))
        items += image_items(rng, cfg, slices, batch, bi, s)
    return torch.stack(xs), items


def item_targets(items):
    return Targets(
        obj=torch.stack([it.slice.lowres(it.target) for it in items]),
        cls=torch.stack([it.slice.lowres(it.slice.labels == it.label) for it in items]),
        body=torch.stack([it.slice.lowres(it.slice.body) for it in items]))


def first_prompts(rng, cfg, items, slices):
    kinds = rng.choice(len(KINDS), size=len(items), p=cfg.kind_p)
    return [first_prompt(rng, it, KINDS[k], slices, cfg) for it, k in zip(items, kinds)]


# ----------------------------------------------------------------------------- a step's losses

def run_decoder(dec, coarse, fine, img_idx, prompts, slices_of_item):
    n_max = max(p.count() for p in prompts)
    cs, ls, ms, hs = [], [], [], []
    for p, s in zip(prompts, slices_of_item):
        c, l = p.tensors(s, n_max)
        cs.append(c)
        ls.append(l)
        ms.append(p.mask if p.mask is not None else torch.zeros(256, 256))
        hs.append(1.0 if p.mask is not None else 0.0)
    return dec.forward_features(
        coarse[img_idx], fine[img_idx], torch.stack(cs), torch.stack(ls),
        torch.stack(ms)[:, None], torch.tensor(hs, dtype=torch.float32))


def chosen_token(iou_row, prompt):
    """micro_sam's rule: the best-scored of tokens 1-3 for a single click, else token 0."""
    return 1 + int(torch.argmax(iou_row[1:])) if prompt.single_click() else 0


def add_round_loss(total, cfg, logits, iou, prompts, items, targets, stats, r):
    """total + round r's loss: BCE + Dice of token 0 (and of tokens 1-3 for point-only prompts),
    MSE of the IoU head, and the "nothing" loss with --absent-weight."""
    multi = torch.tensor([p.single_click() or (p.box is None and p.mask is None) for p in prompts])
    l0 = dice_bce(logits[:, 0], targets.obj)
    l1 = dice_bce(logits[:, 1], targets.obj)
    l2 = dice_bce(logits[:, 2], targets.cls)
    l3 = dice_bce(logits[:, 3], targets.body)
    mw = multi.float()
    seg = (l0 + mw * (l1 + 0.5 * l2 + 0.5 * l3)).mean()
    with torch.no_grad():
        true_iou = hard_iou(logits, targets.obj[:, None])
    iou_loss = F.mse_loss(iou, true_iou)
    total = total + seg + iou_loss
    if cfg.absent_weight > 0:
        a, n = absent_loss(logits[:, 0], targets.obj, prompts, [it.slice for it in items], [it.clean for it in items])
        total = total + cfg.absent_weight * a / len(items)
        if n and r == 0:
            stats["absent"] = float(a) / n
    if r == 0:
        stats["iou0"] = float(true_iou[:, 0].mean())
    stats[f"iou_r{r}"] = float(true_iou[:, 0].mean())
    return total


def corrected_prompts(rng, logits, iou, prompts, items):
    """The next round's prompts: the protocol's correction points against each item's chosen
    mask (propagated "nothing" and moved-mask items keep their prompt)."""
    with torch.no_grad():
        chosen = [logits[i, chosen_token(iou[i], p)].detach() for i, p in enumerate(prompts)]
    new = []
    for i, (p, it) in enumerate(zip(prompts, items)):
        if it.propagated is not None:
            new.append(p)
            continue
        pred = (it.slice.to_original_fast(chosen[i]) > 0).numpy()
        new.append(corrected_prompt(rng, p, it.target, pred, chosen[i]))
    return new


def supervised_rounds(rng, cfg, dec, coarse, fine, items, targets, prompts, rounds, stats):
    """The first prompts and `rounds` correction rounds, each supervised.
    Returns (the summed loss, the last round's logits, IoU scores and prompts)."""
    img_idx = torch.tensor([it.image for it in items])
    its = [it.slice for it in items]
    total = 0.0
    for r in range(rounds + 1):
        logits, iou = run_decoder(dec, coarse, fine, img_idx, prompts, its)
        total = add_round_loss(total, cfg, logits, iou, prompts, items, targets, stats, r)
        if r < rounds:
            prompts = corrected_prompts(rng, logits, iou, prompts, items)
    return total, logits, iou, prompts


def rollout_chains(items, picks, slices, logits, iou, prompts):
    """A chain per item on an A slice (not the propagated ones) from its last chosen mask."""
    chains = []
    with torch.no_grad():
        for i, it in enumerate(items):
            if it.image % 2 == 1 or it.propagated is not None:
                continue
            t = chosen_token(iou[i], prompts[i])
            A, B = it.slice, slices[picks[it.image + 1]]
            pred = (A.to_original_fast(logits[i, t].detach()) > 0).numpy()
            chains.append(RolloutChain(it.image, it.image + 1, A, B, it.target, continuation(B, it.target, it.label), pred))
    return chains


def rollout_loss(rng, cfg, dec, coarse, fine, chains, total, stats):
    """3D propagation from the model's own masks, supervised at every hop: from each chain's A
    slice into its neighbour B, back into A, into B again (hops 0, 1, 2, ... up to --hops).
    A chain stops, as propagation would, when its mask has fewer than MIN_AREA pixels.
    Returns the new total and the number of hops that ran."""
    done = 0
    for hop in range(cfg.hops):
        live = [c for c in chains if c.pred.sum() >= MIN_AREA]
        if not live:
            break
        to_b = hop % 2 == 0
        tgt = [c.slice_b if to_b else c.slice_a for c in live]
        masks = [c.target_b if to_b else c.target_a for c in live]
        img = torch.tensor([c.image_b if to_b else c.image_a for c in live])
        hop_prompts = [rollout_prompt(rng, ts, c.pred, cfg) for ts, c in zip(tgt, live)]
        hl, hi = run_decoder(dec, coarse, fine, img, hop_prompts, tgt)
        t_h = torch.stack([ts.lowres(m) for m, ts in zip(masks, tgt)])
        with torch.no_grad():
            true_iou = hard_iou(hl, t_h[:, None])
        total = total + dice_bce(hl[:, 0], t_h).mean() + F.mse_loss(hi, true_iou)
        if cfg.absent_weight > 0:
            a, n = absent_loss(hl[:, 0], t_h, hop_prompts, tgt)
            total = total + cfg.absent_weight * a / len(live)
            if n:
                stats[f"absent_hop{hop}"] = float(a) / n
        done += 1
        stats[f"hop{hop}"] = float(true_iou[:, 0].mean())
        with torch.no_grad():
            for c, low, ts in zip(live, hl[:, 0].detach(), tgt):
                c.pred = (ts.to_original_fast(low) > 0).numpy()
        chains = live
    return total, done


# ----------------------------------------------------------------------------- the loop

def step_loss(rng, cfg, ts, enc, dec, stats):
    """One step's draws and its loss, averaged over the supervised rounds and hops."""
    batch = draw_batch(rng, cfg, ts)
    x, items = draw_images_and_items(rng, cfg, ts.slices, batch)
    coarse, fine = dec.image_features(enc(x))
    targets = item_targets(items)
    prompts = first_prompts(rng, cfg, items, ts.slices)
    rounds = 0 if rng.random() < cfg.no_correction else int(rng.integers(1, 4))
    total, logits, iou, prompts = supervised_rounds(rng, cfg, dec, coarse, fine, items, targets, prompts, rounds, stats)
    terms = rounds + 1
    if batch.pair_step and cfg.hops > 0:
        chains = rollout_chains(items, batch.picks, ts.slices, logits, iou, prompts)
        total, hops_done = rollout_loss(rng, cfg, dec, coarse, fine, chains, total, stats)
        terms += hops_done
    return total / terms


def optimize(opt, params, total):
    opt.zero_grad()
    total.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def train(cfg):
    """Trains per cfg (config.TrainConfig); returns (encoder, decoder, the training record)."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    torch.set_num_threads(cfg.threads)
    t_load = time.time()
    ts = load_training_set(cfg)
    enc, dec = build_models(cfg)
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-4)
    n_params = (sum(p.numel() for p in enc.parameters()), sum(p.numel() for p in dec.parameters()))
    print(f"parameters: encoder {n_params[0]}, decoder {n_params[1]}", flush=True)

    t0 = time.time()
    last_save = t0
    step = 0
    log = []
    while True:
        lr = learning_rate(cfg, step, time.time() - t0)
        if lr is None:
            break
        for g in opt.param_groups:
            g["lr"] = lr
        stats = {}
        total = step_loss(rng, cfg, ts, enc, dec, stats)
        optimize(opt, params, total)
        step += 1
        if cfg.save_every and time.time() - last_save > cfg.save_every * 60:
            save_checkpoint(enc, dec, cfg.checkpoint)  # so a long run can be scored, or resumed, midway
            last_save = time.time()
        if step % 25 == 0:
            rec = {"step": step, "minutes": round((time.time() - t0) / 60, 2), "lr": lr, "loss": float(total), **stats}
            log.append(rec)
            print(json.dumps(rec), flush=True)
        if ts.val is not None and cfg.eval_every and step % cfg.eval_every == 0:
            print(json.dumps({"step": step, "val": evaluate(enc, dec, ts.val, cfg.seed)}), flush=True)
            enc.train()
            dec.train()

    minutes = (time.time() - t0) / 60
    return enc, dec, {"steps": step, "train_minutes": round(minutes, 1), "log": log, "parameters": n_params,
                      "load_seconds": round(t0 - t_load, 1)}


def save_checkpoint(enc, dec, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({"encoder": enc.state_dict(), "decoder": dec.state_dict()}, path + ".tmp")
    os.replace(path + ".tmp", path)


# ----------------------------------------------------------------------------- evaluation and export

@torch.no_grad()
def evaluate(enc, dec, slices, seed, max_objects=400):
    """Quick Python-side check at the original size: box, center click, click + 3 correction rounds."""
    enc.eval()
    dec.eval()
    rng = np.random.default_rng(seed + 1)
    res = {"box": [], "point": [], "point+3": []}
    n = 0
    for s in slices:
        if not s.objects or n >= max_objects:
            continue
        emb = enc(encoder_input(s.pooled, s.resized_height, s.resized_width)[None])
        coarse, fine = dec.image_features(emb)
        for o in s.objects:
            n += 1
            m = s.object_mask(o)
            for start in ("box", "point"):
                p = Prompt()
                if start == "box":
                    p.box = [float(v) for v in tight_box(m)]
                else:
                    q = deepest_point(m)
                    p.points = [(q[0], q[1], 1)]
                rounds = 3 if start == "point" else 0
                for r in range(rounds + 1):
                    logits, iou = run_decoder(dec, coarse, fine, torch.tensor([0]), [p], [s])
                    low = logits[0, chosen_token(iou[0], p)]
                    pred = (lowres_to_original(low, s.resized_height, s.resized_width, s.height, s.width) > 0).numpy()
                    d = 2 * (pred & m).sum() / max(pred.sum() + m.sum(), 1)
                    if r == 0:
                        res[start].append(d)
                    if r == rounds and start == "point":
                        res["point+3"].append(d)
                    q2 = Prompt()
                    q2.points = p.points + correction(rng, m, pred)
                    q2.box = p.box
                    q2.mask = low
                    p = q2
    return {k: round(float(np.mean(v)), 4) for k, v in res.items()} | {"objects": n}


def export(enc, dec, out):
    """encoder.onnx and decoder.onnx in `out`, with SAM's ONNX input and output names."""
    enc.eval()
    dec.eval()
    e = EncoderOnnx(enc)
    d = DecoderOnnx(dec)
    x = torch.zeros(1, 3, 1024, 1024)
    torch.onnx.export(e, x, os.path.join(out, "encoder.onnx"), input_names=["image"], output_names=["image_embeddings"],
                      opset_version=17, do_constant_folding=True)
    emb = torch.randn(1, 256, 64, 64)
    coords = torch.tensor([[[300.0, 400.0], [0.0, 0.0]]])
    labels = torch.tensor([[1.0, -1.0]])
    mask = torch.zeros(1, 1, 256, 256)
    has = torch.tensor([0.0])
    size = torch.tensor([300.0, 400.0])
    torch.onnx.export(
        d, (emb, coords, labels, mask, has, size), os.path.join(out, "decoder.onnx"),
        input_names=["image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size"],
        output_names=["masks", "iou_predictions", "low_res_masks"],
        dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
        opset_version=17, do_constant_folding=True)
