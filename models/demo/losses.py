"""The losses of a training step: BCE + soft Dice per mask token, the IoU head's target, and
the "nothing" loss for items whose answer is nothing."""
import math

import torch
import torch.nn.functional as F


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
    fx, fy = s.resized_width / s.width / 4.0, s.resized_height / s.height / 4.0
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
    carries one (TrainConfig.mask_always), as micro_sam's mask projection always does: a first
    try that also taught box-only prompts to answer "nothing" lost the aorta and a lesion from
    their own central-slice box (3D Dice 0.65 -> 0.51 at weight 1, 0.22 at weight 3).
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
