/**
 * Binary mask prompts as micro_sam's `_compute_logits_from_mask` builds them, in both versions,
 * against PyTorch (Debian's python3): 1.8 resizes the binary mask (segment_anything's
 * `ResizeLongestSide.apply_image_torch`: bilinear, antialiased), re-thresholds at 0.5, pads with 0
 * and maps to +-ln(999), so the padding is "outside"; 1.7 maps to +-ln(999) first, resizes those
 * logits and pads with 0 ("unsure"). A non-square mask shows both differences.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { binaryMaskToLogits } from "../kernel/sam/mask-prompt.js";
import { canRun } from "./helpers/require.js";
import { pythonHas, runPythonJson } from "./helpers/python.js";

const dir = mkdtempSync(join(tmpdir(), "mask-prompt-rules-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("binary mask prompt rules", () => {
  it.runIf(canRun(pythonHas("numpy", "torch"), "python3-torch (Debian) is needed for micro_sam's mask prompt rules"))(
    "micro_sam 1.8 (default) and 1.7 (option) on a non-square mask with a small object",
    () => {
      const w = 90;
      const h = 60;
      const mask = Uint8Array.from({ length: w * h }, (_, p) => (((p % w) - 30) ** 2 + (Math.floor(p / w) - 25) ** 2 <= 16 || (p % w > 60 && p % w < 64 && Math.floor(p / w) > 10) ? 1 : 0));
      const file = join(dir, "mask.bin");
      writeFileSync(file, mask);
      // _compute_logits_from_mask of micro_sam 1.8 and 1.7, with ResizeLongestSide.apply_image_torch written out
      const ref = runPythonJson<{ v18: number[]; v17: number[] }>(
        String.raw`
import sys, json, numpy as np, torch
import torch.nn.functional as F
a = json.loads(sys.argv[1])
mask = np.fromfile(a['file'], np.uint8).reshape(a['h'], a['w'])
def resize_longest(x, side=256):
    h, w = x.shape
    s = side * 1.0 / max(h, w)
    nh, nw = int(h * s + 0.5), int(w * s + 0.5)
    return F.interpolate(torch.from_numpy(x)[None, None], (nh, nw), mode="bilinear", align_corners=False, antialias=True).numpy().squeeze()
def pad(x):
    return np.pad(x, ((0, 256 - x.shape[0]), (0, 256 - x.shape[1])), mode="constant", constant_values=0)
inv = lambda p: np.log(p / (1 - p))
b = pad(resize_longest((mask == 1).astype("float32")))
v18 = np.where(b > 0.5, inv(1 - 1e-3), inv(1e-3)).astype("float32")
logits = np.zeros(mask.shape, dtype="float32"); logits[mask == 1] = 1 - 1e-3; logits[mask == 0] = 1e-3
v17 = pad(resize_longest(inv(logits))).astype("float32")
print(json.dumps(dict(v18=v18.ravel().tolist(), v17=v17.ravel().tolist())))
`,
        [JSON.stringify({ file, w, h })],
      );
      const v18 = binaryMaskToLogits(mask, { width: w, height: h });
      const v17 = binaryMaskToLogits(mask, { width: w, height: h }, "micro_sam-1.7");
      // 1.8: the same pixels in and out (a pixel whose resized value sits at 0.5 may flip)
      let flipped = 0;
      v18.forEach((v, i) => {
        if (Math.sign(v) !== Math.sign(ref.v18[i]!)) flipped++;
      });
      expect(flipped).toBeLessThanOrEqual(2);
      // 1.7: the resized logits, padding 0
      v17.forEach((v, i) => expect(Math.abs(v - ref.v17[i]!)).toBeLessThan(2e-3));
      // the difference shows: padding rows (256 * 60/90 = 171 rows are the image) are -6.9 in 1.8, 0 in 1.7
      expect(v18[200 * 256 + 10]).toBeCloseTo(-Math.log(999), 4);
      expect(v17[200 * 256 + 10]).toBe(0);
    },
  );
});
