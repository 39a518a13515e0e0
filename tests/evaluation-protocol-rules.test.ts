/**
 * The paper's 2D protocol against micro_sam 1.8 / medico_sam's rules, with expected values from
 * numpy / scipy / scikit-image (Debian's python3): the start point of
 * `get_centers_and_bounding_boxes(mode="v")` (padded image, inner boundary, farthest pixel) and
 * the per-class ground truth `gt == class` of `_run_evaluation_per_semantic_class`, in which a
 * fragment under 20 px is not prompted but counts as missed.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { extractObjects } from "../kernel/analysis/objects.js";
import { SeededRandom } from "../kernel/analysis/rng.js";
import { evaluateImage } from "../kernel/evaluation/protocol-image.js";
import type { ProtocolEngine } from "../kernel/evaluation/protocol.js";
import type { Embedding } from "../kernel/sam/embedding.js";
import { canRun } from "./helpers/require.js";
import { pythonHas, runPythonJson } from "./helpers/python.js";

const dir = mkdtempSync(join(tmpdir(), "protocol-rules-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const needs = canRun(pythonHas("numpy", "scipy", "skimage"), "python3-scipy and python3-skimage (Debian) are needed for micro_sam's protocol rules");

describe("start points", () => {
  it.runIf(needs)("equal micro_sam 1.8's get_centers_and_bounding_boxes(mode='v'), the image border counting as boundary", () => {
    const w = 40;
    const h = 30;
    const r = new SeededRandom(7);
    const maps: Uint8Array[] = [];
    for (let trial = 0; trial < 30; trial++) {
      const data = new Uint8Array(w * h);
      for (let k = 0; k < 3; k++) {
        const cx = r.int(w);
        const cy = r.int(h);
        const rx = 2 + r.int(9);
        const ry = 2 + r.int(7);
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) data[y * w + x] = 1;
      }
      maps.push(data);
    }
    const file = join(dir, "maps.bin");
    writeFileSync(file, Buffer.concat(maps.map((m) => Buffer.from(m))));
    // get_centers_and_bounding_boxes(mode="v") on skimage.measure.label of one class, with scipy's
    // distance_transform_edt standing in for bioimage_cpp's distance_transform (the same rule)
    const ref = runPythonJson<number[][][]>(
      String.raw`
import sys, json, numpy as np
from scipy.ndimage import distance_transform_edt
from skimage.measure import label, regionprops
from skimage.segmentation import find_boundaries
a = json.loads(sys.argv[1])
maps = np.fromfile(a['file'], np.uint8).reshape(-1, a['h'], a['w'])
out = []
for m in maps:
    seg = label(m)
    b = find_boundaries(np.pad(seg, 1), mode="inner")
    d = distance_transform_edt(b == 0)
    centers = []
    for prop in regionprops(seg):
        bb = prop.bbox
        region = d[bb[0] + 1:bb[2] + 1, bb[1] + 1:bb[3] + 1]
        masked = np.where(prop.image, region, -1.0)
        cy, cx = np.unravel_index(int(np.argmax(masked)), masked.shape)
        centers.append([int(cx + bb[1]), int(cy + bb[0])])
    out.append(centers)
print(json.dumps(out))
`,
      [JSON.stringify({ file, w, h })],
    );
    let differs = 0;
    maps.forEach((data, i) => {
      const objects = extractObjects({ width: w, height: h, data }, { minSize: 1 });
      expect(objects.objects.map((o) => [o.center.x, o.center.y])).toEqual(ref[i]);
      const before = extractObjects({ width: w, height: h, data }, { minSize: 1, center: "deepest" }).objects;
      differs += before.filter((o, k) => o.center.x !== objects.objects[k]!.center.x || o.center.y !== objects.objects[k]!.center.y).length;
    });
    expect(differs).toBeGreaterThan(0); // the rule matters on these maps (objects cut by the border)
  });
});

describe("per-class ground truth", () => {
  it.runIf(needs)("is gt == class: a fragment under 20 px is not prompted but counts as missed", async () => {
    const w = 24;
    const h = 20;
    const labels = new Uint8Array(w * h);
    for (let y = 3; y < 9; y++) for (let x = 3; x < 9; x++) labels[y * w + x] = 1; // 36 px object
    for (let y = 14; y < 17; y++) for (let x = 15; x < 19; x++) labels[y * w + x] = 1; // 12 px fragment
    const object = Uint8Array.from(labels, (v, p) => (v && Math.floor(p / w) < 10 ? 1 : 0));
    // the model answers every prompt with the big object exactly
    const engine: ProtocolEngine = {
      segment: () => Promise.resolve({ width: w, height: h, mask: object, logits: new Float32Array(w * h), iou: 1, token: 0, ious: [1], lowResLogits: new Float32Array(65536), candidates: [] }),
    };
    const embedding = { originalSize: { width: w, height: h } } as unknown as Embedding;
    const ev = await evaluateImage(engine, embedding, { width: w, height: h, data: labels }, { start: "box", corrections: 0 });
    const ours = await evaluateImage(engine, embedding, { width: w, height: h, data: labels }, { start: "box", corrections: 0, groundTruth: "prompted-objects" });
    const gtFile = join(dir, "gt.bin");
    const predFile = join(dir, "pred.bin");
    writeFileSync(gtFile, labels);
    writeFileSync(predFile, object);
    // medico_sam's calculate_dice_score(pred > 0, gt == 1)
    const ref = runPythonJson<number>(
      String.raw`
import sys, json, numpy as np
a = json.loads(sys.argv[1])
gt = (np.fromfile(a['gt'], np.uint8) == 1).astype("uint8")
pred = (np.fromfile(a['pred'], np.uint8) > 0).astype("uint8")
num = (pred * gt).sum(); den = (pred * pred).sum() + (gt * gt).sum()
print(json.dumps(float(2. * (num / max(den, 1e-7)))))
`,
      [JSON.stringify({ gt: gtFile, pred: predFile })],
    );
    expect(ev.dropped).toEqual([{ classId: 1, area: 12 }]);
    expect(ev.objects).toHaveLength(1);
    expect(ev.classes[0]!.dice).toBeCloseTo(ref, 12);
    expect(ref).toBeLessThan(1);
    expect(ours.classes[0]!.dice).toBe(1);
  });
});
