"""The training set written by training-set.ts: slices, their objects, and the image and mask
paths between a slice's original size and the model's 256x256 low-res frame.

The image path mirrors the engine exactly: uint8 slice -> Pillow BILINEAR resize so the long
side is 1024 -> SAM normalization -> zero padding -> the exported encoder's first op, a 4x4
average pool. Training computes that pooled 256x256 input once per slice.
"""
import json
import math
import os
from dataclasses import dataclass, field
from typing import List, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

from model import PIXEL_MEAN, PIXEL_STD

MIN_AREA = 20  # the protocol drops smaller components
EIGHT = np.ones((3, 3), dtype=bool)


class SliceObject(NamedTuple):
    """One connected component of a label in a slice (at least MIN_AREA pixels)."""
    label: int
    id: int  # its value in Slice.object_map (1, 2, ...)
    area: int


@dataclass(eq=False)
class Slice:
    entry: dict  # the slice's record in index.json
    height: int
    width: int
    resized_height: int  # the size after resizing the long side to 1024
    resized_width: int
    pooled: np.ndarray  # float16 [256,256]: the 4x4 mean of the resized, padded 1024 image
    labels: np.ndarray  # uint8 HxW label map
    body: np.ndarray  # uint8 HxW body mask
    object_map: np.ndarray  # uint8 HxW: SliceObject.id per pixel, 0 elsewhere
    objects: List[SliceObject]
    partners: List[int] = field(default_factory=list)  # indices of the other slices of its pair

    def object_mask(self, obj):
        return self.object_map == obj.id

    def lowres(self, mask):
        return to_lowres(mask, self.resized_height, self.resized_width)

    def to_original_fast(self, logits):
        return lowres_to_original_fast(logits, self.resized_height, self.resized_width, self.height, self.width)


class EndedObject(NamedTuple):
    """An object of a neighbouring slice whose label is nowhere under it in this one."""
    mask_there: np.ndarray  # its mask in the neighbour
    label: int
    neighbour: int  # the neighbour's slice index
    obj: SliceObject  # the object, in the neighbour


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


def pooled_input(img, entry, rgb_blob):
    """pool_input of the gray slice, or [3,256,256] pooled per channel where the entry is an RGB
    scene (shapes-set.ts writes its RGB to rgb.u8 at `rgbOffset`; images.u8 holds its luma), so
    the encoder trains on the three different channels a colour image gives it at inference."""
    if entry.get("rgbOffset") is None or rgb_blob is None:
        return pool_input(img)
    h, w, o = entry["height"], entry["width"], entry["rgbOffset"]
    rgb = rgb_blob[o:o + 3 * h * w].reshape(h, w, 3)
    return np.stack([pool_input(np.ascontiguousarray(rgb[..., c])) for c in range(3)])


def valid_fraction(nh, nw):
    fy = np.clip(nh - 4 * np.arange(256), 0, 4) / 4.0
    fx = np.clip(nw - 4 * np.arange(256), 0, 4) / 4.0
    return np.outer(fy, fx).astype(np.float32)


def slice_objects(lab):
    """The objects of a label map (components of each label, 8-connected, >= MIN_AREA px) and
    their id map."""
    h, w = lab.shape
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
            objects.append(SliceObject(label=int(l), id=len(objects) + 1, area=area))
            objmap[m] = len(objects)
    return objmap, objects


def load_set(folder):
    """index.json and the Slices of a folder written by training-set.ts, partners linked."""
    with open(os.path.join(folder, "index.json")) as f:
        index = json.load(f)
    blobs = {n: np.fromfile(os.path.join(folder, f"{n}.u8"), dtype=np.uint8) for n in ("images", "labels", "body")}
    rgb_path = os.path.join(folder, "rgb.u8")
    rgb_blob = np.fromfile(rgb_path, dtype=np.uint8) if os.path.exists(rgb_path) else None
    slices = []
    by_pair = {}
    for e in index["slices"]:
        h, w, o = e["height"], e["width"], e["offset"]
        img = blobs["images"][o:o + h * w].reshape(h, w)
        lab = blobs["labels"][o:o + h * w].reshape(h, w)
        body = blobs["body"][o:o + h * w].reshape(h, w)
        nh, nw = resized_size(h, w)
        objmap, objects = slice_objects(lab)
        by_pair.setdefault(e["pair"], []).append(len(slices))
        slices.append(Slice(
            entry=e, height=h, width=w, resized_height=nh, resized_width=nw,
            pooled=pooled_input(img, e, rgb_blob).astype(np.float16), labels=lab.copy(), body=body.copy(),
            object_map=objmap, objects=objects))
    for idxs in by_pair.values():
        for i in idxs:
            slices[i].partners = [j for j in idxs if j != i]
    return index, slices


def keep_slices_with_objects(slices):
    """Drops slices without objects and renumbers the partner indices to match."""
    kept = [i for i, s in enumerate(slices) if s.objects]
    new_index = {old: new for new, old in enumerate(kept)}
    out = [slices[i] for i in kept]
    for s in out:
        s.partners = [new_index[j] for j in s.partners if j in new_index]
    return out


def neighbours(s, slices):
    """Indices of s's partner slices of the same size (propagation prompts move between them)."""
    return [j for j in s.partners if slices[j].height == s.height and slices[j].width == s.width]


def ending_candidates(s, slices):
    """Objects of a neighbouring slice whose label is nowhere under them here: they ended."""
    out = []
    for j in neighbours(s, slices):
        t = slices[j]
        for o in t.objects:
            m = t.object_mask(o)
            if not (s.labels[m] == o.label).any():
                out.append(EndedObject(m, o.label, j, o))
    return out


def continuation(t, obj_mask, label):
    """The object of `obj_mask` (label `label`) in the neighbouring slice t: the components of
    that label there which overlap it; empty where the object has ended."""
    same = t.labels == label
    cc, _ = ndimage.label(same, structure=EIGHT)
    ids = np.unique(cc[obj_mask & same])
    ids = ids[ids > 0]
    return np.isin(cc, ids) if len(ids) else np.zeros_like(obj_mask)


def encoder_input(G, nh, nw, aug=None):
    """[3,256,256] from the pooled gray or pooled RGB (exactly pooling the normalized, padded image).
    `aug`: (gain, offset, gamma) applied to the unpadded gray."""
    Fv = valid_fraction(nh, nw)
    g = G.astype(np.float32)
    if aug is not None:
        a, b, gamma = aug
        base = np.where(Fv > 0, g / np.maximum(Fv, 1e-6), 0.0)
        base = 255.0 * np.power(np.clip(base / 255.0, 0, 1), gamma)
        g = np.clip(a * base + b, 0, 255) * Fv
    x = np.stack([((g[c] if g.ndim == 3 else g) - PIXEL_MEAN[c] * Fv) / PIXEL_STD[c] for c in range(3)])
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
