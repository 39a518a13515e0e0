"""Checks an export against PyTorch, the way a user will run it.

The reference is segment_anything's SamPredictor (the predictor micro_sam wraps) on a uint8
image normalized as micro_sam >= 1.7 does; the candidate is onnxruntime running encoder.onnx on
the same preprocessed tensor and decoder.onnx on that embedding, with prompts encoded as the
TypeScript engine encodes them (points, then box corners with labels 2/3, a (0,0,-1) padding
point only when there is no box). It reports the largest differences of embeddings, logits and
predicted IoUs, and the IoU of the masks micro_sam's rule would choose.

It also writes reference/ into the model folder: the image, the prompts in the TypeScript
Prompt format and the reference masks, so that tests/export-reference.test.ts can check the
whole TypeScript pipeline (its own resize and normalization included) against micro_sam."""

import json
from pathlib import Path
from typing import List, Optional

import numpy as np

from .registry import PACKAGE_ROOT

SAMPLE_IMAGE = PACKAGE_ROOT / "data" / "phantom-slice.png"
# Failing thresholds: float32 ONNX vs float32 PyTorch differ by rounding only.
MAX_EMBEDDING_RELATIVE = 1e-3
MIN_MASK_IOU = 0.98


def micro_sam_uint8(image: np.ndarray) -> np.ndarray:
    """micro_sam >= 1.7's conversion to a uint8 RGB image (docs/inference.md §3, step 2): 3 channels
    (gray replicated), then per channel in float32 (x - min) / (max - min + 1e-7) * 255,
    truncated toward zero."""
    x = np.asarray(image)
    if x.ndim == 2:
        x = np.stack([x] * 3, axis=-1)
    elif x.ndim == 3 and x.shape[-1] == 1:
        x = np.concatenate([x] * 3, axis=-1)
    elif x.ndim == 3 and x.shape[-1] == 2:
        x = np.concatenate([x, np.zeros_like(x[..., :1])], axis=-1)
    elif x.ndim == 3 and x.shape[-1] > 3:
        x = x[..., :3]
    x = x.astype(np.float32)
    out = np.empty(x.shape, dtype=np.uint8)
    for c in range(3):
        ch = x[..., c]
        lo, hi = ch.min(), ch.max()
        out[..., c] = ((ch - lo) / (hi - lo + np.float32(1e-7)) * np.float32(255)).astype(np.uint8)
    return out


def load_sample_image() -> np.ndarray:
    """The repository's sample slice; a generated one when run outside the repository."""
    if SAMPLE_IMAGE.is_file():
        from PIL import Image

        return np.array(Image.open(SAMPLE_IMAGE))
    yy, xx = np.mgrid[0:320, 0:384]
    img = 40 + 120 * (((xx - 150) / 90.0) ** 2 + ((yy - 160) / 70.0) ** 2 < 1) + 60 * (((xx - 270) / 40.0) ** 2 + ((yy - 170) / 30.0) ** 2 < 1)
    return img.astype(np.uint8)


def fixed_prompts(width: int, height: int) -> List[dict]:
    """Same set as fixedPrompts() in kernel/onnx/quantize-check.ts (image-relative clicks,
    click pairs, boxes), in the TypeScript Prompt format: x = column, y = row."""
    def at(fx, fy):
        return {"x": int(round((width - 1) * fx)), "y": int(round((height - 1) * fy))}

    prompts = []
    for fy in (0.3, 0.5, 0.7):
        for fx in (0.3, 0.5, 0.7):
            prompts.append({"points": [{**at(fx, fy), "positive": True}]})
    for fx, fy in ((0.4, 0.45), (0.6, 0.55)):
        prompts.append({"points": [{**at(fx, fy), "positive": True}, {**at(fx + 0.08, fy), "positive": False}]})
    for half in (0.1, 0.2, 0.3):
        a, b = at(0.5 - half, 0.5 - half), at(0.5 + half, 0.5 + half)
        prompts.append({"box": {"x0": a["x"], "y0": a["y"], "x1": b["x"], "y1": b["y"]}})
    c0, c1 = at(0.15, 0.15), at(0.45, 0.4)
    prompts.append({"box": {"x0": c0["x"], "y0": c0["y"], "x1": c1["x"], "y1": c1["y"]},
                    "points": [{**at(0.3, 0.28), "positive": True}]})
    return prompts


def micro_sam_token(prompt: dict, ious: np.ndarray) -> int:
    """micro_sam's choice (docs/inference.md §6): one positive point -> best of tokens 1..3, else 0."""
    points = prompt.get("points", [])
    single = len(points) == 1 and points[0]["positive"] and "box" not in prompt
    return 1 + int(np.argmax(ious[1:4])) if single and len(ious) == 4 else 0


def onnx_prompt(prompt: dict, transform, original_size):
    """Prompt -> (point_coords [1,N,2], point_labels [1,N]) in the 1024 frame, as the engine does."""
    coords, labels = [], []
    for p in prompt.get("points", []):
        coords.append([p["x"], p["y"]])
        labels.append(1.0 if p["positive"] else 0.0)
    if "box" in prompt:
        b = prompt["box"]
        coords += [[b["x0"], b["y0"]], [b["x1"], b["y1"]]]
        labels += [2.0, 3.0]
    coords = transform.apply_coords(np.array(coords, dtype=np.float64), original_size)
    if "box" not in prompt:
        coords = np.concatenate([coords, np.zeros((1, 2))], axis=0)
        labels.append(-1.0)
    return coords[None].astype(np.float32), np.array(labels, dtype=np.float32)[None]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def verify_export(sam, folder: Path, image: Optional[np.ndarray] = None, write_reference: bool = True,
                  min_mask_iou: float = MIN_MASK_IOU) -> dict:
    """Runs the comparison; returns the figures (also stored in model.json). Raises
    AssertionError when a threshold is broken, after printing every figure."""
    import onnxruntime as ort
    import torch
    from segment_anything import SamPredictor

    folder = Path(folder)
    raw = load_sample_image() if image is None else image
    img = micro_sam_uint8(raw)
    predictor = SamPredictor(sam)
    predictor.set_image(img)  # RGB uint8, as micro_sam calls it
    h, w = img.shape[:2]
    resized = predictor.transform.apply_image(img)
    x = torch.as_tensor(resized).permute(2, 0, 1).contiguous()[None].float()
    x = sam.preprocess(x).numpy().astype(np.float32)

    enc = ort.InferenceSession(str(folder / "encoder.onnx"), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(folder / "decoder.onnx"), providers=["CPUExecutionProvider"])
    emb = enc.run(None, {enc.get_inputs()[0].name: x})[0]
    ref_emb = predictor.features.detach().numpy()
    emb_diff = np.abs(emb - ref_emb)
    emb_rel = float(np.linalg.norm(emb - ref_emb) / max(np.linalg.norm(ref_emb), 1e-12))

    prompts = fixed_prompts(w, h)
    results = []
    ref_dir = folder / "reference"
    if write_reference:
        ref_dir.mkdir(exist_ok=True)
        from PIL import Image

        Image.fromarray(raw).save(ref_dir / "image.png")
    for i, prompt in enumerate(prompts):
        coords, labels = onnx_prompt(prompt, predictor.transform, (h, w))
        masks, ious, _ = dec.run(None, {
            "image_embeddings": emb, "point_coords": coords, "point_labels": labels,
            "mask_input": np.zeros((1, 1, 256, 256), np.float32), "has_mask_input": np.zeros(1, np.float32),
            "orig_im_size": np.array([h, w], np.float32),
        })
        pts = prompt.get("points", [])
        kwargs = dict(
            point_coords=np.array([[p["x"], p["y"]] for p in pts], np.float32) if pts else None,
            point_labels=np.array([1 if p["positive"] else 0 for p in pts], np.int64) if pts else None,
            box=np.array([prompt["box"][k] for k in ("x0", "y0", "x1", "y1")], np.float32) if "box" in prompt else None,
            return_logits=True,
        )
        multi, multi_iou, _ = predictor.predict(multimask_output=True, **kwargs)
        single, single_iou, _ = predictor.predict(multimask_output=False, **kwargs)
        ref_masks = np.concatenate([single, multi], axis=0)  # token order 0, 1, 2, 3
        ref_ious = np.concatenate([single_iou, multi_iou], axis=0)
        token_ref = micro_sam_token(prompt, ref_ious)
        token_onnx = micro_sam_token(prompt, ious[0])
        chosen_ref = ref_masks[token_ref] > 0
        chosen_onnx = masks[0, token_onnx] > 0
        results.append({
            "prompt": prompt,
            "maxLogitDiff": float(np.abs(masks[0] - ref_masks).max()),
            "maxIouPredictionDiff": float(np.abs(ious[0] - ref_ious).max()),
            "tokenReference": token_ref, "tokenOnnx": token_onnx,
            "maskIou": iou(chosen_ref, chosen_onnx),
            "area": int(chosen_ref.sum()),
        })
        if write_reference:
            from PIL import Image

            Image.fromarray((chosen_ref * 255).astype(np.uint8)).save(ref_dir / f"mask-{i:02d}.png")
    summary = {
        "image": str(SAMPLE_IMAGE.relative_to(PACKAGE_ROOT)) if image is None and SAMPLE_IMAGE.is_file() else "generated",
        "reference": "segment_anything SamPredictor (as used by micro_sam), micro_sam >= 1.7 intensity normalization",
        "embeddingMaxAbsDiff": float(emb_diff.max()),
        "embeddingRelativeError": emb_rel,
        "maxLogitDiff": max(r["maxLogitDiff"] for r in results),
        "maxIouPredictionDiff": max(r["maxIouPredictionDiff"] for r in results),
        "minMaskIou": min(r["maskIou"] for r in results),
        "sameTokens": all(r["tokenReference"] == r["tokenOnnx"] for r in results),
        "prompts": len(results),
    }
    if write_reference:
        (ref_dir / "reference.json").write_text(json.dumps({
            "image": "image.png",
            "intensity": {"mode": "minmax"},
            "rule": "micro_sam: one positive point -> best predicted IoU among tokens 1..3, else token 0",
            "cases": [{"prompt": r["prompt"], "token": r["tokenReference"], "mask": f"mask-{i:02d}.png", "area": r["area"]}
                      for i, r in enumerate(results)],
        }, indent=2) + "\n", encoding="utf-8")
    print(f"  embeddings: largest |ONNX - PyTorch| = {summary['embeddingMaxAbsDiff']:.3g}, "
          f"relative error {summary['embeddingRelativeError']:.3g}")
    print(f"  decoder over {len(results)} prompts: largest logit difference {summary['maxLogitDiff']:.3g}, "
          f"largest IoU-prediction difference {summary['maxIouPredictionDiff']:.3g}, "
          f"chosen masks IoU >= {summary['minMaskIou']:.4f}, same tokens: {summary['sameTokens']}")
    problems = []
    if emb_rel > MAX_EMBEDDING_RELATIVE:
        problems.append(f"embedding relative error {emb_rel:.3g} > {MAX_EMBEDDING_RELATIVE}")
    if summary["minMaskIou"] < min_mask_iou:
        problems.append(f"a mask IoU of {summary['minMaskIou']:.4f} < {min_mask_iou}")
    if problems:
        raise AssertionError("the ONNX export does not reproduce PyTorch: " + "; ".join(problems))
    return summary
