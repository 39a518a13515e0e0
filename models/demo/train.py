#!/usr/bin/python3
"""Train the demo model on phantoms written by models/demo/training-set.ts, then export it.

    npx tsx models/demo/training-set.ts --out .cache/demo-train            # training slices
    npx tsx models/demo/training-set.ts --out .cache/demo-val --seed-base 300000 --anatomies 24
    /usr/bin/python3 models/demo/train.py --data .cache/demo-train --val .cache/demo-val \
        --out models/demo --minutes 30          # or --steps N to repeat a recorded run

Needs Debian's python3-torch (1.13), python3-scipy, python3-pil, python3-numpy,
python3-onnx and libopenblas0-openmp. CPU only; one thread by default (on a 2-core machine shared
with other work, 2 threads were slower: they wait for each other).

The image path mirrors the engine exactly: uint8 slice -> Pillow BILINEAR resize so the long
side is 1024 -> SAM normalization -> zero padding -> the exported encoder's first op, a 4x4
average pool. Training computes that pooled 256x256 input once per slice.

Prompts imitate how the model is used: a box (tight, or jittered), one click (the deepest
inside point, or anywhere inside), a click plus a negative click near the object (the paper's
3D start), several clicks, and 3D propagation (the box and mask of the neighbouring slice).
Then 0-3 correction rounds add a positive click in the missed region and a negative one in
the false region, with or without the previous logits as mask input, as in the paper's
protocol. Every round is supervised.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import PIXEL_MEAN, PIXEL_STD, Decoder, DecoderOnnx, Encoder256, EncoderOnnx  # noqa: E402

MIN_AREA = 20  # the protocol drops smaller components
EIGHT = np.ones((3, 3), dtype=bool)


# ----------------------------------------------------------------------------- data

def resized_size(h, w):
    s = 1024.0 / max(h, w)
    return int(math.floor(h * s + 0.5)), int(math.floor(w * s + 0.5))


def pool_input(img):
    """uint8 HxW -> 4x4 mean of the resized, zero-padded 1024 image (float32 256x256)."""
    h, w = img.shape
    nh, nw = resized_size(h, w)
    r = np.asarray(Image.fromarray(img).resize((nw, nh), Image.BILINEAR), dtype=np.float32)
    pad = np.zeros((1024, 1024), np.float32)
    pad[:nh, :nw] = r
    return pad.reshape(256, 4, 256, 4).mean((1, 3))


def valid_fraction(nh, nw):
    fy = np.clip(nh - 4 * np.arange(256), 0, 4) / 4.0
    fx = np.clip(nw - 4 * np.arange(256), 0, 4) / 4.0
    return np.outer(fy, fx).astype(np.float32)


def load_set(folder):
    with open(os.path.join(folder, "index.json")) as f:
        index = json.load(f)
    blobs = {n: np.fromfile(os.path.join(folder, f"{n}.u8"), dtype=np.uint8) for n in ("images", "labels", "body")}
    slices = []
    by_pair = {}
    for e in index["slices"]:
        h, w, o = e["height"], e["width"], e["offset"]
        img = blobs["images"][o:o + h * w].reshape(h, w)
        lab = blobs["labels"][o:o + h * w].reshape(h, w)
        body = blobs["body"][o:o + h * w].reshape(h, w)
        nh, nw = resized_size(h, w)
        objmap = np.zeros((h, w), np.uint8)
        objects = []
        for l in np.unique(lab):
            if l == 0:
                continue
            cc, n = ndimage.label(lab == l, structure=EIGHT)
            for c in range(1, n + 1):
                m = cc == c
                area = int(m.sum())
                if area < MIN_AREA:
                    continue
                objects.append({"label": int(l), "id": len(objects) + 1, "area": area})
                objmap[m] = len(objects)
        s = {
            "entry": e, "h": h, "w": w, "nh": nh, "nw": nw,
            "G": pool_input(img).astype(np.float16), "labels": lab.copy(), "body": body.copy(),
            "objmap": objmap, "objects": objects,
        }
        by_pair.setdefault(e["pair"], []).append(len(slices))
        slices.append(s)
    for idxs in by_pair.values():
        for i in idxs:
            slices[i]["partner"] = [j for j in idxs if j != i]
    return index, slices


def keep_slices_with_objects(slices):
    """Drops slices without objects and renumbers the partner indices to match."""
    kept = [i for i, s in enumerate(slices) if s["objects"]]
    new_index = {old: new for new, old in enumerate(kept)}
    out = [slices[i] for i in kept]
    for s in out:
        s["partner"] = [new_index[j] for j in s.get("partner", []) if j in new_index]
    return out


def encoder_input(G, nh, nw, aug=None):
    """[3,256,256] from the pooled gray (exactly pooling the normalized, padded image)."""
    Fv = valid_fraction(nh, nw)
    g = G.astype(np.float32)
    if aug is not None:
        a, b, gamma = aug
        base = np.where(Fv > 0, g / np.maximum(Fv, 1e-6), 0.0)
        base = 255.0 * np.power(np.clip(base / 255.0, 0, 1), gamma)
        g = np.clip(a * base + b, 0, 255) * Fv
    x = np.stack([(g - PIXEL_MEAN[c] * Fv) / PIXEL_STD[c] for c in range(3)])
    return torch.from_numpy(x.astype(np.float32))


def to_lowres(mask, nh, nw):
    """Binary/soft HxW -> [256,256] soft mask in the padded low-res frame.

    Antialiased bilinear straight to the 256 frame: within a fraction of a low-res pixel of
    the image's own path (resize to 1024, pool 4x4), at a small fraction of its cost.
    """
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    h4, w4 = max(1, round(nh / 4)), max(1, round(nw / 4))
    r = F.interpolate(t, size=(h4, w4), mode="bilinear", align_corners=False, antialias=True)
    return F.pad(r, (0, 256 - w4, 0, 256 - h4))[0, 0]


def lowres_to_original_fast(logits, nh, nw, h, w):
    """Approximately the graph's postprocessing (crop the valid low-res part, resize once): for training."""
    h4, w4 = max(1, round(nh / 4)), max(1, round(nw / 4))
    return F.interpolate(logits[None, None, :h4, :w4], size=(h, w), mode="bilinear", align_corners=False)[0, 0]


def lowres_to_original(logits, nh, nw, h, w):
    """The decoder graph's postprocessing for one 256x256 logit map -> HxW."""
    up = F.interpolate(logits[None, None], size=(1024, 1024), mode="bilinear", align_corners=False)
    up = up[..., :nh, :nw]
    return F.interpolate(up, size=(h, w), mode="bilinear", align_corners=False)[0, 0]


# ----------------------------------------------------------------------------- prompts

def deepest_point(mask):
    d = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    i = int(np.argmax(d))
    return i % mask.shape[1], i // mask.shape[1]


def random_pixel(rng, region):
    ys, xs = np.nonzero(region)
    if len(xs) == 0:
        return None
    k = rng.integers(len(xs))
    return int(xs[k]), int(ys[k])


def tight_box(mask):
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def correction(rng, obj, pred):
    """The protocol's two points: positive from FN (else TP), negative from FP (else a ring, else background)."""
    fn = obj & ~pred
    pos = random_pixel(rng, fn) or random_pixel(rng, obj & pred) or random_pixel(rng, obj)
    fp = pred & ~obj
    neg = random_pixel(rng, fp)
    if neg is None:
        x0, y0, x1, y1 = tight_box(obj)
        ring = np.zeros_like(obj)
        ring[max(0, y0 - 3):y1 + 3, max(0, x0 - 3):x1 + 3] = True
        neg = random_pixel(rng, ring & ~obj) or random_pixel(rng, ~obj)
    pts = [(pos[0], pos[1], 1)]
    if neg is not None:
        pts.append((neg[0], neg[1], 0))
    return pts


class Prompt:
    def __init__(self):
        self.points = []  # (x, y, label) original pixels
        self.box = None  # [x0, y0, x1, y1]
        self.mask = None  # 256x256 logits tensor or None

    def single_click(self):
        return self.box is None and self.mask is None and len(self.points) == 1 and self.points[0][2] == 1

    def tensors(self, s, n_max):
        sx, sy = s["nw"] / s["w"], s["nh"] / s["h"]
        pts = [(x * sx, y * sy, l) for x, y, l in self.points]
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            pts += [(x0 * sx, y0 * sy, 2), (x1 * sx, y1 * sy, 3)]
        else:
            pts.append((0.0, 0.0, -1))
        while len(pts) < n_max:
            pts.append((0.0, 0.0, -1))
        c = torch.tensor([[p[0], p[1]] for p in pts], dtype=torch.float32)
        l = torch.tensor([p[2] for p in pts], dtype=torch.float32)
        return c, l

    def count(self):
        return len(self.points) + (2 if self.box is not None else 1)


def start_prompt(rng, s, obj_mask, label, kind, slices):
    p = Prompt()
    h, w = obj_mask.shape
    if kind == "prop":
        prev = None
        for j in neighbours(s, slices):
            there = continuation(slices[j], obj_mask, label)
            if there.any():
                prev = there
        if prev is None or prev.sum() < MIN_AREA:
            kind = "box"
        else:
            prev = perturb_previous(rng, prev)
            p = propagation_prompt(rng, s, prev, mask_probability=0.85)
            if rng.random() < 0.25:  # micro_sam's points mode adds inner points
                q = random_pixel(rng, prev & obj_mask)
                if q:
                    p.points.append((q[0], q[1], 1))
            return p
    if kind == "box":
        x0, y0, x1, y1 = tight_box(obj_mask)
        if rng.random() < 0.5:
            bw, bh = x1 - x0, y1 - y0
            j = lambda size: float(rng.uniform(-0.08, 0.08)) * size
            x0, x1 = x0 + j(bw), x1 + j(bw)
            y0, y1 = y0 + j(bh), y1 + j(bh)
            x0, y0 = max(0.0, min(x0, x1 - 1)), max(0.0, min(y0, y1 - 1))
            x1, y1 = min(float(w), max(x1, x0 + 1)), min(float(h), max(y1, y0 + 1))
        p.box = [x0, y0, x1, y1]
    elif kind == "point":
        q = deepest_point(obj_mask) if rng.random() < 0.35 else random_pixel(rng, obj_mask)
        p.points.append((q[0], q[1], 1))
    elif kind == "point_neg":
        q = random_pixel(rng, obj_mask)
        p.points.append((q[0], q[1], 1))
        grown = ndimage.binary_dilation(obj_mask, iterations=int(rng.integers(3, 15)))
        r = random_pixel(rng, grown & ~obj_mask)
        if r:
            p.points.append((r[0], r[1], 0))
    elif kind == "points":
        for _ in range(int(rng.integers(2, 5))):
            q = random_pixel(rng, obj_mask)
            p.points.append((q[0], q[1], 1))
    return p


def neighbours(s, slices):
    """Indices of s's partner slices of the same size (propagation prompts move between them)."""
    return [j for j in s.get("partner", []) if slices[j]["h"] == s["h"] and slices[j]["w"] == s["w"]]


def ending_candidates(s, slices):
    """Objects of a neighbouring slice whose label is nowhere under them here: they ended.
    Tuples (mask there, label, neighbour index, object)."""
    out = []
    for j in neighbours(s, slices):
        t = slices[j]
        for o in t["objects"]:
            m = t["objmap"] == o["id"]
            if not (s["labels"][m] == o["label"]).any():
                out.append((m, o["label"], j, o))
    return out


PROP_PERTURB = 0.5


def perturb_previous(rng, prev):
    """The previous slice's mask grown or shrunk by 1-4 px (probability PROP_PERTURB).

    Neighbouring slices are so alike that copying the mask prompt is nearly right, and a model
    that learned to copy never lets a propagation stop (the first recipes: every object ran to
    both ends of the volume). A mask prompt that is off by a few pixels makes the image, not the
    prompt, decide the boundary.
    """
    if rng.random() >= PROP_PERTURB:
        return prev
    k = int(rng.integers(1, 5))
    out = ndimage.binary_dilation(prev, iterations=k) if rng.random() < 0.5 else ndimage.binary_erosion(prev, iterations=k)
    return out if out.sum() >= MIN_AREA else prev


def propagation_prompt(rng, s, prev, mask_probability):
    """What propagation sends into the next slice: the previous mask's box grown by 0-10 %,
    usually with the mask (micro_sam's binary +-ln(0.999/0.001) prompt, or soft logits).
    The random draws come in the order the shipped runs used, so `--steps` still repeats them."""
    p = Prompt()
    h, w = prev.shape
    x0, y0, x1, y1 = tight_box(prev)
    ext = rng.uniform(0.0, 0.1)
    dx, dy = (x1 - x0) * ext, (y1 - y0) * ext
    p.box = [max(0.0, x0 - dx), max(0.0, y0 - dy), min(float(w), x1 + dx), min(float(h), y1 + dy)]
    if rng.random() < mask_probability:
        soft = to_lowres(prev, s["nh"], s["nw"])
        p.mask = torch.where(soft > 0.5, 6.9068, -6.9068) if rng.random() < 0.6 else (soft - 0.5) * 2.0 * float(rng.uniform(4.0, 14.0))
    return p


DISPLACED_IOU = 0.4
CLEAN_ABSENT = 0.05


def displaced_item(rng, s, obj_mask, label):
    """A propagation prompt whose mask was moved off its object by 0.5-2 object radii.

    The target is the object under the moved mask if it overlaps one well (IoU >= 0.4),
    else nothing. Past an organ's end, propagation prompts the next slice with a mask over
    tissue that is not that organ; a model that copies the mask's shape there never lets the
    propagation stop (every organ of the first rollout runs ran to both ends of the volume).
    This teaches it to answer with what is really under a mask prompt.
    """
    h, w = obj_mask.shape
    r = math.sqrt(obj_mask.sum() / math.pi)
    for _ in range(4):
        ang, mag = rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 2.0) * r
        dy, dx = int(round(mag * math.sin(ang))), int(round(mag * math.cos(ang)))
        moved = np.zeros_like(obj_mask)
        moved[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] = obj_mask[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
        if moved.sum() >= MIN_AREA:
            break
    else:
        return {"b": None, "s": s, "label": label, "mask": obj_mask, "ending": None}
    target, target_label, best = np.zeros_like(obj_mask), label, DISPLACED_IOU
    for o in s["objects"]:
        m = s["objmap"] == o["id"]
        inter = (m & moved).sum()
        if inter:
            iou = inter / (m | moved).sum()
            if iou >= best:
                target, target_label, best = m, o["label"], iou
    # Only a moved mask over unlabelled tissue is a clean "nothing" for absent_loss: one that half
    # covers a small object (a lesion in the liver, the aorta) taught the model to drop small
    # objects from their own box (a lesion's central-slice box gave 34 of its 1070 px).
    clean = float((s["labels"][moved] > 0).mean()) < CLEAN_ABSENT
    return {"b": None, "s": s, "label": target_label, "mask": target, "ending": moved, "clean": clean}


MASK_ALWAYS = False  # main() sets it with --absent-weight: "nothing" items then always carry the mask (see absent_loss)


def ending_prompt(rng, s, prev):
    """Propagation into a slice where the object has ended (the answer is "nothing")."""
    return propagation_prompt(rng, s, perturb_previous(rng, prev), mask_probability=1.0 if MASK_ALWAYS else 0.8)


def continuation(t, obj_mask, label):
    """The object of `obj_mask` (label `label`) in the neighbouring slice t: the components of
    that label there which overlap it; empty where the object has ended."""
    same = t["labels"] == label
    cc, _ = ndimage.label(same, structure=EIGHT)
    ids = np.unique(cc[obj_mask & same])
    ids = ids[ids > 0]
    return np.isin(cc, ids) if len(ids) else np.zeros_like(obj_mask)


def rollout_prompt(rng, s, pred):
    """What 3D propagation sends into the next slice from the model's OWN mask (micro_sam's
    "mask" projection: the box grown by 0-10 %, mostly with the mask as binary logits).

    Trained on ground-truth neighbours only, the model learned to copy a mask prompt: from its
    own slightly-too-small masks the propagated objects shrank slice by slice (aorta and spine
    recall 0.72 over 24 slices), and past an organ's end it went on drawing. Feeding its own
    output back, and supervising each hop, is the rollout the issue asked for.
    """
    return propagation_prompt(rng, s, pred, mask_probability=1.0 if MASK_ALWAYS else 0.9)


KINDS = ["box", "point", "point_neg", "points", "prop"]
KIND_P = [0.25, 0.30, 0.10, 0.10, 0.25]


# ----------------------------------------------------------------------------- loss

def dice_bce(logits, target):
    """logits, target [M,256,256] -> per-item BCE + soft Dice."""
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean((1, 2))
    p = torch.sigmoid(logits)
    inter = (p * target).sum((1, 2))
    dice = 1 - (2 * inter + 1) / (p.sum((1, 2)) + target.sum((1, 2)) + 1)
    return bce + dice


def box_region(p, s):
    """The prompt's box as a [256,256] 0/1 map in the low-res frame, or None without a box."""
    if p.box is None:
        return None
    fx, fy = s["nw"] / s["w"] / 4.0, s["nh"] / s["h"] / 4.0
    x0, y0, x1, y1 = p.box
    c0, r0 = int(math.floor(x0 * fx)), int(math.floor(y0 * fy))
    c1, r1 = max(c0 + 1, int(math.ceil(x1 * fx))), max(r0 + 1, int(math.ceil(y1 * fy)))
    region = torch.zeros(256, 256, dtype=torch.bool)
    region[r0:r1, c0:c1] = True
    return region


def absent_loss(logits, targets, prompts, slices_of_item, clean=None):
    """For items whose answer is nothing (the object has ended, or a moved mask covers no
    object): BCE against 0 averaged over the prompt's box only, summed over those items.

    dice_bce hardly teaches these. Its Dice term is 1 - 1/(P + 1) for P predicted low-res pixels:
    about 1 for any blob, with a gradient of 1/(P + 1)^2 (1e-5 for a 300-px blob); its BCE is
    averaged over the whole 256x256 frame, so a blob of 2 % of it weighs 2 %. Past the ends of
    organs the shipped step-5 model kept drawing 150-280 px blobs and propagation never stopped
    (3D Dice 0.65). Averaged over the box the blob is most of the term, whatever its size.
    Only items whose prompt carries a mask count, and with this loss on, every "nothing" item
    carries one (MASK_ALWAYS), as micro_sam's mask projection always does: a first try that
    also taught box-only prompts to answer "nothing" lost the aorta and a lesion from their
    own central-slice box (3D Dice 0.65 -> 0.51 at weight 1, 0.22 at weight 3).
    Returns (sum of the terms, number of such items)."""
    terms = []
    for i, (p, s) in enumerate(zip(prompts, slices_of_item)):
        if float(targets[i].sum()) > 0 or (clean is not None and not clean[i]):
            continue
        region = box_region(p, s)
        if region is None or p.mask is None:
            continue
        terms.append(F.binary_cross_entropy_with_logits(logits[i][region], torch.zeros(int(region.sum()))))
    return (torch.stack(terms).sum() if terms else 0.0), len(terms)


def hard_iou(logits, target):
    p = logits > 0
    t = target > 0.5
    inter = (p & t).sum((-1, -2)).float()
    union = (p | t).sum((-1, -2)).float()
    return inter / union.clamp(min=1)


# ----------------------------------------------------------------------------- training

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
            a, o = cands[int(rng.integers(len(cands)))][2:]
            forced[0] = o
        else:
            a = paired[int(rng.integers(len(paired)))]
            b = neighbours(slices[a], slices)[0]
        picks += [a, b]
    return np.array(picks), with_end, forced


def rollout_loss(rng, dec, coarse, fine, items, picks, slices, logits, iou, prompts, hops, total, stats, absent_weight=0.0):
    """3D propagation from the model's own masks, supervised at every hop: from each item on an
    A slice (its last prediction, chosen by micro_sam's rule) into its neighbour B, back into
    A, into B again (hops 0, 1, 2, ...). A chain stops, as propagation would, when its mask
    has fewer than MIN_AREA pixels. Returns the new total and the number of hops that ran."""
    chain = []
    with torch.no_grad():
        for i, it in enumerate(items):
            if it["b"] % 2 == 1 or it["ending"] is not None:
                continue
            t = 1 + int(torch.argmax(iou[i, 1:])) if prompts[i].single_click() else 0
            A, B = it["s"], slices[picks[it["b"] + 1]]
            pred = (lowres_to_original_fast(logits[i, t].detach(), A["nh"], A["nw"], A["h"], A["w"]) > 0).numpy()
            chain.append({"a": it["b"], "b": it["b"] + 1, "A": A, "B": B, "objA": it["mask"], "objB": continuation(B, it["mask"], it["label"]), "pred": pred})
    done = 0
    for hop in range(hops):
        live = [c for c in chain if c["pred"].sum() >= MIN_AREA]
        if not live:
            break
        to_b = hop % 2 == 0
        tgt = [c["B"] if to_b else c["A"] for c in live]
        masks = [c["objB"] if to_b else c["objA"] for c in live]
        img = torch.tensor([c["b"] if to_b else c["a"] for c in live])
        hop_prompts = [rollout_prompt(rng, ts, c["pred"]) for ts, c in zip(tgt, live)]
        hl, hi = run_decoder(dec, coarse, fine, img, hop_prompts, tgt)
        t_h = torch.stack([to_lowres(m, ts["nh"], ts["nw"]) for m, ts in zip(masks, tgt)])
        with torch.no_grad():
            true_iou = hard_iou(hl, t_h[:, None])
        total = total + dice_bce(hl[:, 0], t_h).mean() + F.mse_loss(hi, true_iou)
        if absent_weight > 0:
            a, n = absent_loss(hl[:, 0], t_h, hop_prompts, tgt)
            total = total + absent_weight * a / len(live)
            if n:
                stats[f"absent_hop{hop}"] = float(a) / n
        done += 1
        stats[f"hop{hop}"] = float(true_iou[:, 0].mean())
        with torch.no_grad():
            for c, low, ts in zip(live, hl[:, 0].detach(), tgt):
                c["pred"] = (lowres_to_original_fast(low, ts["nh"], ts["nw"], ts["h"], ts["w"]) > 0).numpy()
        chain = live
    return total, done


def save_checkpoint(enc, dec, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({"encoder": enc.state_dict(), "decoder": dec.state_dict()}, path + ".tmp")
    os.replace(path + ".tmp", path)


def nn_init_zero(p):
    with torch.no_grad():
        p.zero_()


def train(args):
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    torch.set_num_threads(args.threads)
    t_load = time.time()
    index, slices = load_set(args.data)
    slices = keep_slices_with_objects(slices)
    val = load_set(args.val)[1] if args.val else None
    ends_pool = [i for i, s in enumerate(slices) if ending_candidates(s, slices)]
    paired = [i for i, s in enumerate(slices) if neighbours(s, slices)]
    print(f"loaded {len(slices)} training slices ({len(ends_pool)} where a neighbour's object ends) in {time.time() - t_load:.0f} s", flush=True)

    enc, dec = Encoder256(), Decoder()
    if args.init:
        state = torch.load(args.init)
        enc.load_state_dict(state["encoder"])
        # Layers added since that run start from zero, so the network begins where it ended.
        missing = dec.load_state_dict(state["decoder"], strict=False).missing_keys
        for name, p in dec.named_parameters():
            if name in missing and name.startswith(Decoder.ZERO_ON_CONTINUE):
                nn_init_zero(p)
        print(f"continued from {args.init}; new decoder parameters: {missing} (those of ZERO_ON_CONTINUE start at zero)", flush=True)
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    n_params = (sum(p.numel() for p in enc.parameters()), sum(p.numel() for p in dec.parameters()))
    print(f"parameters: encoder {n_params[0]}, decoder {n_params[1]}", flush=True)

    t0 = time.time()
    last_save = t0
    step = 0
    log = []
    budget = args.minutes * 60 if args.minutes else None
    while True:
        elapsed = time.time() - t0
        progress = step / args.steps if args.steps else elapsed / budget
        if progress >= 1 or (args.stop_at and step >= args.stop_at):
            break
        warm = min(1.0, (step + 1) / 100)
        lr = args.lr * warm * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        for g in opt.param_groups:
            g["lr"] = lr

        # (Only drawn when --pairs is given, so that older runs repeat with their own draws.)
        pair_step = args.pairs > 0 and rng.random() < args.pairs
        forced = {}
        if pair_step:
            picks, with_end, forced = pair_picks(rng, slices, paired, ends_pool, args.batch, args.ending)
        else:
            picks = rng.choice(len(slices), size=args.batch, replace=False)
            with_end = bool(ends_pool) and rng.random() < args.ending
            if with_end:
                picks[0] = ends_pool[int(rng.integers(len(ends_pool)))]
        xs = []
        items = []  # (image index in batch, slice, object)
        for bi, si in enumerate(picks):
            s = slices[si]
            aug = None
            if rng.random() < 0.6:
                aug = (rng.uniform(0.85, 1.15), rng.uniform(-12, 12), rng.uniform(0.8, 1.25))
            xs.append(encoder_input(s["G"], s["nh"], s["nw"], aug))
            objs = s["objects"]
            picked = [objs[oi] for oi in rng.choice(len(objs), size=min(args.objects, len(objs)), replace=False)]
            if bi in forced and forced[bi] not in picked:
                picked[0] = forced[bi]  # the object that ends in the partner slice: its rollout must stop
            ends = ending_candidates(s, slices) if (with_end and bi == 0 and not pair_step) else []
            displaced = bi == 1 and args.displaced > 0 and rng.random() < args.displaced
            for k, o in enumerate(picked):
                if k == 1 and displaced:
                    items.append({**displaced_item(rng, s, s["objmap"] == o["id"], o["label"]), "b": bi})
                elif k == 0 and ends:
                    # Propagation into a slice where the object has ended: the answer is "nothing".
                    prev, label = ends[int(rng.integers(len(ends)))][:2]
                    items.append({"b": bi, "s": s, "label": label, "mask": np.zeros_like(prev), "ending": prev})
                else:
                    items.append({"b": bi, "s": s, "label": o["label"], "mask": s["objmap"] == o["id"], "ending": None})
        x = torch.stack(xs)
        emb = enc(x)
        coarse, fine = dec.image_features(emb)

        img_idx = torch.tensor([it["b"] for it in items])
        its = [it["s"] for it in items]
        obj_masks = [it["mask"] for it in items]
        t_obj = torch.stack([to_lowres(it["mask"], it["s"]["nh"], it["s"]["nw"]) for it in items])
        t_cls = torch.stack([to_lowres(it["s"]["labels"] == it["label"], it["s"]["nh"], it["s"]["nw"]) for it in items])
        t_body = torch.stack([to_lowres(it["s"]["body"], it["s"]["nh"], it["s"]["nw"]) for it in items])
        kinds = rng.choice(len(KINDS), size=len(items), p=KIND_P)
        prompts = [
            ending_prompt(rng, it["s"], it["ending"]) if it["ending"] is not None else start_prompt(rng, it["s"], it["mask"], it["label"], KINDS[k], slices)
            for it, k in zip(items, kinds)
        ]
        rounds = 0 if rng.random() < args.no_correction else int(rng.integers(1, 4))

        total = 0.0
        stats = {}
        for r in range(rounds + 1):
            logits, iou = run_decoder(dec, coarse, fine, img_idx, prompts, its)
            multi = torch.tensor([p.single_click() or (p.box is None and p.mask is None) for p in prompts])
            l0 = dice_bce(logits[:, 0], t_obj)
            l1 = dice_bce(logits[:, 1], t_obj)
            l2 = dice_bce(logits[:, 2], t_cls)
            l3 = dice_bce(logits[:, 3], t_body)
            mw = multi.float()
            seg = (l0 + mw * (l1 + 0.5 * l2 + 0.5 * l3)).mean()
            with torch.no_grad():
                true_iou = hard_iou(logits, t_obj[:, None])
            iou_loss = F.mse_loss(iou, true_iou)
            total = total + seg + iou_loss
            if args.absent_weight > 0:
                a, n = absent_loss(logits[:, 0], t_obj, prompts, its, [it.get("clean", True) for it in items])
                total = total + args.absent_weight * a / len(items)
                if n and r == 0:
                    stats["absent"] = float(a) / n
            if r == 0:
                stats["iou0"] = float(true_iou[:, 0].mean())
            stats[f"iou_r{r}"] = float(true_iou[:, 0].mean())
            if r < rounds:
                with torch.no_grad():
                    chosen = []
                    for i, p in enumerate(prompts):
                        t = 1 + int(torch.argmax(iou[i, 1:])) if p.single_click() else 0
                        chosen.append(logits[i, t].detach())
                new = []
                for i, (p, it) in enumerate(zip(prompts, items)):
                    s = it["s"]
                    if it["ending"] is not None:
                        new.append(p)
                        continue
                    pred = (lowres_to_original_fast(chosen[i], s["nh"], s["nw"], s["h"], s["w"]) > 0).numpy()
                    q = Prompt()
                    q.points = p.points + correction(rng, obj_masks[i], pred)
                    q.box = p.box
                    q.mask = chosen[i] if rng.random() < 0.5 else None
                    new.append(q)
                prompts = new
        terms = rounds + 1
        if pair_step and args.hops > 0:
            total, hops_done = rollout_loss(rng, dec, coarse, fine, items, picks, slices, logits, iou, prompts, args.hops, total, stats, args.absent_weight)
            terms += hops_done
        total = total / terms
        opt.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        if args.save_every and time.time() - last_save > args.save_every * 60:
            save_checkpoint(enc, dec, args.checkpoint)  # so a long run can be scored, or resumed, midway
            last_save = time.time()
        if step % 25 == 0:
            rec = {"step": step, "minutes": round((time.time() - t0) / 60, 2), "lr": lr, "loss": float(total), **stats}
            log.append(rec)
            print(json.dumps(rec), flush=True)
        if val is not None and args.eval_every and step % args.eval_every == 0:
            print(json.dumps({"step": step, "val": evaluate(enc, dec, val, args.seed)}), flush=True)
            enc.train()
            dec.train()

    minutes = (time.time() - t0) / 60
    return enc, dec, {"steps": step, "train_minutes": round(minutes, 1), "log": log, "parameters": n_params,
                      "load_seconds": round(t0 - t_load, 1)}


# ----------------------------------------------------------------------------- evaluation

@torch.no_grad()
def evaluate(enc, dec, slices, seed, max_objects=400):
    """Quick Python-side check at the original size: box, center click, click + 3 correction rounds."""
    enc.eval()
    dec.eval()
    rng = np.random.default_rng(seed + 1)
    res = {"box": [], "point": [], "point+3": []}
    n = 0
    for s in slices:
        if not s["objects"] or n >= max_objects:
            continue
        emb = enc(encoder_input(s["G"], s["nh"], s["nw"])[None])
        coarse, fine = dec.image_features(emb)
        for o in s["objects"]:
            n += 1
            m = s["objmap"] == o["id"]
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
                    t = 1 + int(torch.argmax(iou[0, 1:])) if p.single_click() else 0
                    low = logits[0, t]
                    pred = (lowres_to_original(low, s["nh"], s["nw"], s["h"], s["w"]) > 0).numpy()
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


# ----------------------------------------------------------------------------- export

def export(enc, dec, out):
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


def main():
    global PROP_PERTURB, KIND_P, MASK_ALWAYS
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
    ap.add_argument("--prop-perturb", type=float, default=PROP_PERTURB, help="probability that a propagation prompt's mask is grown or shrunk by 1-4 px")
    ap.add_argument("--no-correction", type=float, default=0.5, help="probability of a step without correction rounds")
    ap.add_argument("--pairs", type=float, default=0.0, help="probability that a step's images are pairs of neighbouring slices, with propagation rollouts from the model's own masks")
    ap.add_argument("--hops", type=int, default=3, help="rollout hops per pair step (A->B, B->A, A->B, ...)")
    ap.add_argument("--kind-p", default=",".join(str(p) for p in KIND_P), help="probabilities of the start prompts " + "/".join(KINDS))
    ap.add_argument("--displaced", type=float, default=0.0, help="per step, probability of one propagation item whose mask prompt was moved off its object (answer: what is under it, or nothing)")
    ap.add_argument("--absent-weight", type=float, default=0.0, help="weight of the box-averaged BCE on items whose answer is nothing (see absent_loss)")
    ap.add_argument("--stop-at", type=int, default=0, help="stop at this step, the schedule still spanning --steps (repeats a run that was cut short)")
    ap.add_argument("--save-every", type=float, default=0, help="also save the checkpoint every this many minutes")
    ap.add_argument("--checkpoint", default=".cache/demo-weights.pt", help="where the PyTorch weights are saved")
    ap.add_argument("--init", help="start from these weights (a --checkpoint of an earlier run)")
    args = ap.parse_args()
    if not args.steps and not args.minutes:
        ap.error("give --steps N or --minutes M")
    PROP_PERTURB = args.prop_perturb
    MASK_ALWAYS = args.absent_weight > 0
    KIND_P = [float(v) for v in args.kind_p.split(",")]
    if len(KIND_P) != len(KINDS) or abs(sum(KIND_P) - 1) > 1e-6:
        ap.error(f"--kind-p needs {len(KINDS)} probabilities ({'/'.join(KINDS)}) that sum to 1")
    t0 = time.time()
    enc, dec, record = train(args)
    save_checkpoint(enc, dec, args.checkpoint)
    record["validation"] = evaluate(enc, dec, load_set(args.val)[1], args.seed) if args.val else None
    export(enc, dec, args.out)
    record.update({
        "seed": args.seed, "batch_images": args.batch, "objects_per_image": args.objects, "lr": args.lr,
        "threads": args.threads, "ending": args.ending, "prop_perturb": args.prop_perturb, "no_correction": args.no_correction, "pairs": args.pairs, "hops": args.hops, "displaced": args.displaced, "absent_weight": args.absent_weight, "prompt_kinds": dict(zip(KINDS, KIND_P)), "correction_rounds": f"0 (p={args.no_correction}) else 1-3",
        "optimizer": "AdamW, weight decay 1e-4, warm-up 100 steps, cosine decay, grad clip 1.0",
        "loss": "BCE + soft Dice per token (token 0 always; tokens 1-3 for point-only prompts: object, class, body) + MSE of IoU" + (f" + {args.absent_weight} x box-averaged BCE on clean 'nothing' items (absent_loss)" if args.absent_weight else ""),
        "torch": torch.__version__, "total_minutes": round((time.time() - t0) / 60, 1),
        "data": os.path.abspath(args.data), "init": args.init,
    })
    if args.init:
        # The record of the run this one continued, so training.json tells the whole story.
        prev = os.path.join(os.path.dirname(os.path.abspath(args.init)), "training.json")
        if os.path.exists(prev):
            with open(prev) as f:
                record["continued_from"] = json.load(f)
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(record, f, indent=1)
    print(json.dumps({k: v for k, v in record.items() if k != "log"}), flush=True)


if __name__ == "__main__":
    main()
