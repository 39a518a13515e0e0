/**
 * A label map from the generator's masks, as micro_sam's `mask_data_to_segmentation` makes
 * one: masks sorted by area, largest first, painted in that order, so a smaller mask lying on
 * a larger one keeps its pixels; every pixel holds one label (no overlaps).
 */
import type { Size2D } from "../io/image.js";

export interface LabelMapResult {
  /** height*width; 0 = no mask, k = the k-th largest mask. */
  readonly labels: Uint16Array;
  /** `order[k - 1]` = index in the input of the mask labelled k. */
  readonly order: number[];
}

/**
 * Label k = the k-th largest mask (ties keep the input order). A mask entirely covered by
 * smaller ones keeps its number but no pixels. Up to 65535 masks (a 16-bit PNG).
 */
export function masksToLabelMap(records: readonly { segmentation: Uint8Array; area: number }[], size: Size2D): LabelMapResult {
  const n = size.height * size.width;
  if (records.length > 65535) throw new Error(`${records.length} masks do not fit a 16-bit label map (at most 65535).`);
  const order = records.map((_, i) => i).sort((a, b) => records[b]!.area - records[a]!.area || a - b);
  const labels = new Uint16Array(n);
  order.forEach((index, k) => {
    const seg = records[index]!.segmentation;
    if (seg.length !== n) throw new Error(`mask ${index} has ${seg.length} pixels; ${size.width}x${size.height} needs ${n}.`);
    for (let p = 0; p < n; p++) if (seg[p]) labels[p] = k + 1;
  });
  return { labels, order };
}
