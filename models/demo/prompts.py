"""The prompts training draws, imitating how the model is used: a box (tight, or jittered),
one click (the deepest inside point, or anywhere inside), a click plus a negative click near
the object (the paper's 3D start), several clicks, and 3D propagation (the box and mask of the
neighbouring slice); then the paper's correction rounds; and the propagation items whose
answer is "nothing" or another object (ending, displaced, rollout).

Every function draws from the run's numpy Generator in the order the shipped runs did, so
TRAINING.md's `--steps` commands repeat them (check_reproducible.py proves it).
"""
import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from scipy import ndimage

from data import MIN_AREA, Slice, continuation, neighbours

DISPLACED_IOU = 0.4  # a moved mask's target is an object it overlaps at least this well
CLEAN_ABSENT = 0.05  # a moved mask over less than this fraction of labelled pixels is a clean "nothing"


@dataclass
class Prompt:
    points: list = field(default_factory=list)  # (x, y, label) in original pixels
    box: Optional[list] = None  # [x0, y0, x1, y1]
    mask: Optional[torch.Tensor] = None  # 256x256 logits

    def single_click(self):
        return self.box is None and self.mask is None and len(self.points) == 1 and self.points[0][2] == 1

    def tensors(self, s, n_max):
        """Point coordinates (in the resized frame) and labels, the box as labels 2/3, padded
        with label -1 to n_max points."""
        sx, sy = s.resized_width / s.width, s.resized_height / s.height
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


@dataclass(eq=False)
class Item:
    """One thing to segment in one image of a step's batch."""
    image: int  # index of its image in the batch
    slice: Slice
    label: int  # the target's label (token 2 learns every structure of it)
    target: np.ndarray  # HxW bool; empty where the answer is "nothing"
    propagated: Optional[np.ndarray] = None  # the mask propagation sends in (ending and moved-mask items); None: a start prompt
    clean: bool = True  # a "nothing" target that absent_loss may teach (see displaced_item)


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


def corrected_prompt(rng, p, obj, pred, mask):
    """The next round's prompt: p's points and box plus the protocol's correction points, with
    the previous logits `mask` as mask input in half the rounds."""
    q = Prompt()
    q.points = p.points + correction(rng, obj, pred)
    q.box = p.box
    q.mask = mask if rng.random() < 0.5 else None
    return q


def start_prompt(rng, s, obj_mask, label, kind, slices, cfg):
    """The first prompt of kind `kind` (config.KINDS) for the object `obj_mask` in slice s.
    "prop" falls back to "box" where no neighbour holds the object."""
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
            prev = perturb_previous(rng, prev, cfg.prop_perturb)
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


def perturb_previous(rng, prev, probability):
    """The previous slice's mask grown or shrunk by 1-4 px (with `probability`, --prop-perturb).

    Neighbouring slices are so alike that copying the mask prompt is nearly right, and a model
    that learned to copy never lets a propagation stop (the first recipes: every object ran to
    both ends of the volume). A mask prompt that is off by a few pixels makes the image, not the
    prompt, decide the boundary.
    """
    if rng.random() >= probability:
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
        soft = s.lowres(prev)
        p.mask = torch.where(soft > 0.5, 6.9068, -6.9068) if rng.random() < 0.6 else (soft - 0.5) * 2.0 * float(rng.uniform(4.0, 14.0))
    return p


def displaced_item(rng, image, s, obj_mask, label):
    """A propagation item whose mask was moved off its object by 0.5-2 object radii.

    The target is the object under the moved mask if it overlaps one well (IoU >= 0.4),
    else nothing. Past an organ's end, propagation prompts the next slice with a mask over
    tissue that is not that organ; a model that copies the mask's shape there never lets the
    propagation stop (every organ of the first rollout runs ran to both ends of the volume).
    This teaches it to answer with what is really under a mask prompt. Where no move keeps
    MIN_AREA pixels in the frame, an ordinary item of the object.
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
        return Item(image, s, label, obj_mask)
    target, target_label, best = np.zeros_like(obj_mask), label, DISPLACED_IOU
    for o in s.objects:
        m = s.object_mask(o)
        inter = (m & moved).sum()
        if inter:
            iou = inter / (m | moved).sum()
            if iou >= best:
                target, target_label, best = m, o.label, iou
    # Only a moved mask over unlabelled tissue is a clean "nothing" for absent_loss: one that half
    # covers a small object (a lesion in the liver, the aorta) taught the model to drop small
    # objects from their own box (a lesion's central-slice box gave 34 of its 1070 px).
    clean = float((s.labels[moved] > 0).mean()) < CLEAN_ABSENT
    return Item(image, s, target_label, target, propagated=moved, clean=clean)


def ending_prompt(rng, s, prev, cfg):
    """Propagation into a slice where the object has ended (the answer is "nothing"), or of a
    moved mask (displaced_item)."""
    return propagation_prompt(rng, s, perturb_previous(rng, prev, cfg.prop_perturb), mask_probability=1.0 if cfg.mask_always else 0.8)


def rollout_prompt(rng, s, pred, cfg):
    """What 3D propagation sends into the next slice from the model's OWN mask (micro_sam's
    "mask" projection: the box grown by 0-10 %, mostly with the mask as binary logits).

    Trained on ground-truth neighbours only, the model learned to copy a mask prompt: from its
    own slightly-too-small masks the propagated objects shrank slice by slice (aorta and spine
    recall 0.72 over 24 slices), and past an organ's end it went on drawing. Feeding its own
    output back, and supervising each hop, is the rollout the issue asked for.
    """
    return propagation_prompt(rng, s, pred, mask_probability=1.0 if cfg.mask_always else 0.9)


def first_prompt(rng, item, kind, slices, cfg):
    """An item's first prompt: propagation of its mask for ending and moved-mask items, else a
    start prompt of `kind`."""
    if item.propagated is not None:
        return ending_prompt(rng, item.slice, item.propagated, cfg)
    return start_prompt(rng, item.slice, item.target, item.label, kind, slices, cfg)
