/**
 * The rules of segment_anything's automatic mask generator (`utils/amg.py`, torchvision's
 * `batched_nms`) on small hand-made inputs, against values worked out by hand from SAM's
 * formulas: point grids, crop boxes, stability at the offset, NMS order and ties, RLE layout,
 * small-region removal (OpenCV's 8-connectivity), boxes, the label map.
 */
import { describe, expect, it } from "vitest";
import { isBoxNearCropEdge, maskToBox, uncropBox } from "../kernel/automatic/boxes.js";
import { buildAllLayerPointGrids, buildPointGrid, generateCropBoxes } from "../kernel/automatic/grid.js";
import { masksToLabelMap } from "../kernel/automatic/label-map.js";
import { nms } from "../kernel/automatic/nms.js";
import { availableParallelism } from "node:os";
import { resolveOptions } from "../kernel/automatic/options.js";
import { areaFromRle, maskToRle, rleToMask } from "../kernel/automatic/rle.js";
import { removeSmallRegions } from "../kernel/automatic/small-regions.js";
import { stabilityScore } from "../kernel/automatic/stability.js";

/** Rows of 0/1 characters -> a row-major mask. */
function mask(rows: string[]): { data: Uint8Array; width: number; height: number } {
  const height = rows.length;
  const width = rows[0]!.length;
  return { data: Uint8Array.from(rows.join("").split("").map(Number)), width, height };
}

describe("point grids (build_point_grid, build_all_layer_point_grids)", () => {
  it("puts n x n points at the centres of an n x n tiling, x fastest", () => {
    expect(buildPointGrid(2)).toEqual([
      { x: 0.25, y: 0.25 },
      { x: 0.75, y: 0.25 },
      { x: 0.25, y: 0.75 },
      { x: 0.75, y: 0.75 },
    ]);
    const g = buildPointGrid(32);
    expect(g).toHaveLength(1024);
    expect(g[0]).toEqual({ x: 1 / 64, y: 1 / 64 });
    expect(g[1]!.x).toBeCloseTo(3 / 64, 15);
    expect(g[31]).toEqual({ x: 1 - 1 / 64, y: 1 / 64 }); // linspace's last value is the stop exactly
    expect(g[32]!.y).toBeCloseTo(3 / 64, 15);
  });

  it("downscales the points per side per crop layer with int(n / factor^i)", () => {
    expect(buildAllLayerPointGrids(32, 1, 1).map((g) => g.length)).toEqual([1024, 1024]);
    expect(buildAllLayerPointGrids(32, 2, 2).map((g) => g.length)).toEqual([1024, 256, 64]);
    expect(buildAllLayerPointGrids(32, 2, 3).map((g) => g.length)).toEqual([1024, 100, 9]); // int(32/3) = 10, int(32/9) = 3
  });
});

describe("crop boxes (generate_crop_boxes)", () => {
  it("layer 1 on a 512x384 image: 4 overlapping crops, x0 outer", () => {
    // short side 384; overlap = int(512/1500 * 384 * 2/2) = int(131.07) = 131;
    // crop_w = ceil((131 + 512) / 2) = 322, crop_h = ceil((131 + 384) / 2) = 258;
    // x0 = 0, int(322 - 131) = 191; y0 = 0, int(258 - 131) = 127; corners clipped to the image.
    const boxes = generateCropBoxes({ height: 384, width: 512 }, 1, 512 / 1500);
    expect(boxes).toEqual([
      { box: [0, 0, 512, 384], layer: 0 },
      { box: [0, 0, 322, 258], layer: 1 },
      { box: [0, 127, 322, 384], layer: 1 },
      { box: [191, 0, 512, 258], layer: 1 },
      { box: [191, 127, 512, 384], layer: 1 },
    ]);
  });

  it("layer 2 has 16 crops of ceil((overlap*3 + len)/4)", () => {
    // overlap = int(131.072 * 2/4) = 65; crop_w = ceil((195 + 512) / 4) = 177; x0 = 0, 112, 224, 336
    const boxes = generateCropBoxes({ height: 384, width: 512 }, 2, 512 / 1500).filter((b) => b.layer === 2);
    expect(boxes).toHaveLength(16);
    expect(boxes.slice(0, 4).map((b) => b.box[1])).toEqual([0, 80, 160, 240]); // crop_h = ceil((195+384)/4) = 145; 145-65 = 80
    expect([...new Set(boxes.map((b) => b.box[0]))]).toEqual([0, 112, 224, 336]);
    expect(boxes[15]!.box).toEqual([336, 240, 512, 384]);
  });
});

describe("stability score at the offset (calculate_stability_score)", () => {
  const logits = Float32Array.of(-2, -1, -0.5, 0.5, 1, 1.5, 2, 3);
  it("is #(logit > t + offset) / #(logit > t - offset), both strict", () => {
    expect(stabilityScore(logits, 0, 1)).toBe(Math.fround(3 / 6)); // {1.5,2,3} / {-0.5,...,3}
    expect(stabilityScore(logits, 0, 0.5)).toBe(Math.fround(4 / 5)); // {1,1.5,2,3} / {0.5,...,3}
    expect(stabilityScore(logits, 1, 1)).toBe(Math.fround(1 / 5)); // {3} / {0.5,1,1.5,2,3}: 2 and 0 are not above
    expect(stabilityScore(Float32Array.of(-5, -3), 0, 1)).toBeNaN(); // 0/0, as in PyTorch
  });
});

describe("NMS (torchvision batched_nms, one category)", () => {
  const A = [0, 0, 10, 10] as const;
  const B = [1, 1, 11, 11] as const; // IoU with A: 81 / 119 = 0.68
  const C = [20, 20, 30, 30] as const;
  it("visits boxes by score, suppresses IoU > threshold, returns kept indices in score order", () => {
    expect(nms([A, B, C, A], [0.9, 0.95, 0.9, 0.9], 0.7)).toEqual([1, 0, 2]); // the second A (IoU 1) goes
    expect(nms([A, B, C, A], [0.9, 0.95, 0.9, 0.9], 0.6)).toEqual([1, 2]); // B removes both As (0.68 > 0.6)
    expect(nms([A, B], [0.95, 0.9], 0.6)).toEqual([0]);
  });
  it("keeps the input order among equal scores and does not suppress at IoU == threshold", () => {
    expect(nms([C, A, B], [0.5, 0.5, 0.5], 0.9)).toEqual([0, 1, 2]);
    expect(nms([B, A], [0.5, 0.5], 0.5)).toEqual([0]); // 0.68 > 0.5: the first of the tie wins
    expect(nms([A, [0, 0, 10, 5]], [0.9, 0.8], 0.5)).toEqual([0, 1]); // IoU 50/100 = 0.5, not above
  });
  it("uses areas without +1 (an empty box has IoU 0 with anything)", () => {
    expect(nms([[3, 3, 3, 3], [3, 3, 3, 3]], [1, 1], 0)).toEqual([0, 1]);
  });
});

describe("uncompressed RLE (mask_to_rle_pytorch, rle_to_mask, area_from_rle)", () => {
  it("runs over columns, starting with background", () => {
    const m = mask(["0110", "0100", "1101"]);
    // column-major: 001 111 100 001 -> 0,0 | 1,1,1,1,1 | 0,0,0,0 | 1
    const rle = maskToRle(m.data, m.width, m.height);
    expect(rle).toEqual({ size: [3, 4], counts: [2, 5, 4, 1] });
    expect(areaFromRle(rle)).toBe(6);
    expect(rleToMask(rle)).toEqual(m.data);
  });
  it("starts with a zero-length run when the first pixel is foreground; empty and full masks", () => {
    expect(maskToRle(mask(["10", "00"]).data, 2, 2).counts).toEqual([0, 1, 3]);
    expect(maskToRle(new Uint8Array(6), 3, 2).counts).toEqual([6]);
    expect(maskToRle(new Uint8Array(6).fill(1), 3, 2).counts).toEqual([0, 6]);
  });
  it("decodes what it encodes for random masks", () => {
    let s = 7;
    const next = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) / 65536;
    for (let t = 0; t < 20; t++) {
      const w = 1 + Math.floor(next() * 13);
      const h = 1 + Math.floor(next() * 11);
      const data = Uint8Array.from({ length: w * h }, () => (next() < 0.4 ? 1 : 0));
      const rle = maskToRle(data, w, h);
      expect(rleToMask(rle)).toEqual(data);
      expect(rle.counts.reduce((a, b) => a + b, 0)).toBe(w * h);
      expect(areaFromRle(rle)).toBe(data.reduce((a, b) => a + b, 0));
    }
  });
});

describe("small-region removal (remove_small_regions, 8-connectivity)", () => {
  const m = mask([
    "000000000",
    "011111000",
    "010011000",
    "011111000",
    "000000010",
    "000000001",
    "100000000",
  ]);
  it("holes: background regions below the area become foreground, the outside stays", () => {
    const r = removeSmallRegions(m.data, m.width, m.height, 3, "holes");
    expect(r.changed).toBe(true);
    expect(Array.from(r.mask)).toEqual(Array.from(mask([
      "000000000",
      "011111000",
      "011111000",
      "011111000",
      "000000010",
      "000000001",
      "100000000",
    ]).data));
    expect(removeSmallRegions(m.data, m.width, m.height, 2, "holes").changed).toBe(false); // the hole has 2 pixels, not < 2
  });
  it("islands: foreground regions below the area go; diagonal neighbours are one region", () => {
    const r = removeSmallRegions(m.data, m.width, m.height, 2, "islands");
    // the 2-pixel diagonal pair (8-connected) stays, the single corner pixel goes
    expect(r.changed).toBe(true);
    expect(r.mask[6 * 9]).toBe(0);
    expect(r.mask[4 * 9 + 7]).toBe(1);
    expect(r.mask[5 * 9 + 8]).toBe(1);
    const r3 = removeSmallRegions(m.data, m.width, m.height, 3, "islands");
    expect(r3.mask[4 * 9 + 7]).toBe(0);
    expect(r3.mask.reduce((a, b) => a + b, 0)).toBe(13); // the ring alone
  });
  it("islands: when every region is small, the largest stays", () => {
    const r = removeSmallRegions(m.data, m.width, m.height, 100, "islands");
    expect(r.changed).toBe(true);
    expect(r.mask.reduce((a, b) => a + b, 0)).toBe(13);
  });
  it("a hole touching the outside diagonally is part of the outside (8-connected background)", () => {
    const d = mask(["1111", "1101", "1110", "1111"]); // two hole pixels touching diagonally
    const r = removeSmallRegions(d.data, 4, 4, 3, "holes");
    expect(r.mask.reduce((a, b) => a + b, 0)).toBe(16); // the two diagonal hole pixels: one region of 2 < 3
    const open = mask(["1111", "1101", "1110", "1110"]); // the diagonal chain reaches the border: one 3-pixel region
    expect(removeSmallRegions(open.data, 4, 4, 3, "holes").changed).toBe(false);
  });
});

describe("boxes (batched_mask_to_box, is_box_near_crop_edge, uncrop_boxes_xyxy)", () => {
  it("gives inclusive pixel boxes and [0,0,0,0] for an empty mask", () => {
    const m = mask(["0000", "0010", "0110"]);
    expect(maskToBox(m.data, 4, 3)).toEqual([1, 1, 2, 2]);
    expect(maskToBox(new Uint8Array(12), 4, 3)).toEqual([0, 0, 0, 0]);
  });
  it("flags boxes within 20 px of a crop edge that is not an image edge", () => {
    const image = [0, 0, 512, 384] as const;
    const crop = [191, 0, 512, 258] as const;
    expect(isBoxNearCropEdge([30, 50, 100, 100], crop, image)).toBe(false); // x0 = 221: 30 px from the crop's left edge
    expect(isBoxNearCropEdge([20, 50, 100, 100], crop, image)).toBe(true); // x0 = 211: 20 px (atol inclusive)
    expect(isBoxNearCropEdge([50, 0, 100, 100], crop, image)).toBe(false); // top edge is the image's
    expect(isBoxNearCropEdge([50, 50, 100, 240], crop, image)).toBe(true); // y1 = 240, 18 px from 258
    expect(uncropBox([1, 2, 3, 4], crop)).toEqual([192, 2, 194, 4]);
  });
});

describe("label map (micro_sam's mask_data_to_segmentation)", () => {
  it("labels by area, largest first, smaller masks painted over larger ones", () => {
    const big = { segmentation: Uint8Array.of(1, 1, 1, 1, 1, 1), area: 6 };
    const small = { segmentation: Uint8Array.of(0, 1, 0, 0, 0, 0), area: 1 };
    const mid = { segmentation: Uint8Array.of(0, 1, 1, 0, 0, 0), area: 2 };
    const { labels, order } = masksToLabelMap([small, big, mid], { height: 2, width: 3 });
    expect(order).toEqual([1, 2, 0]);
    expect(Array.from(labels)).toEqual([1, 3, 2, 1, 1, 1]);
  });
});

describe("options", () => {
  const grids = buildAllLayerPointGrids;
  it("has segment_anything's defaults and refuses snake_case names with the camelCase one", () => {
    const o = resolveOptions({}, grids);
    expect(o).toMatchObject({ pointsPerBatch: 64, predIouThresh: 0.88, stabilityScoreThresh: 0.95, stabilityScoreOffset: 1, boxNmsThresh: 0.7, cropNLayers: 0, cropNmsThresh: 0.7, cropOverlapRatio: 512 / 1500, cropNPointsDownscaleFactor: 1, minMaskRegionArea: 0 });
    expect(o.pointGrids[0]).toHaveLength(1024);
    expect(() => resolveOptions({ pred_iou_thresh: 0.5 } as never, grids)).toThrow(/predIouThresh/);
    expect(() => resolveOptions({ pointsPerSide: 8, pointGrids: [buildPointGrid(2)] }, grids)).toThrow(/exactly one/);
    expect(() => resolveOptions({ pointsPerSide: null }, grids)).toThrow(/exactly one/);
    // pointGrids alone implies pointsPerSide null (SAM needs both said explicitly)
    expect(resolveOptions({ pointGrids: [buildPointGrid(2)] }, grids).pointGrids[0]).toHaveLength(4);
    expect(() => resolveOptions({ pointsPerSide: null, pointGrids: [buildPointGrid(2)], cropNLayers: 1 }, grids)).toThrow(/one per layer/);
  });

  it("decoderWorkers (not SAM's): 2 by default on 2+ cores, 0 = one session here, whole numbers only", () => {
    expect(resolveOptions({}, grids).decoderWorkers).toBe(availableParallelism() >= 2 ? 2 : 0);
    expect(resolveOptions({ decoderWorkers: 0 }, grids).decoderWorkers).toBe(0);
    expect(resolveOptions({ decoderWorkers: 3 }, grids).decoderWorkers).toBe(3);
    expect(() => resolveOptions({ decoderWorkers: 1.5 }, grids)).toThrow(/decoderWorkers must be a whole number in 0..64/);
    expect(() => resolveOptions({ decoderWorkers: -1 }, grids)).toThrow(/decoderWorkers/);
  });
});
