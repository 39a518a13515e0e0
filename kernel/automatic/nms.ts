/**
 * Non-maximum suppression on boxes, as torchvision's `batched_nms` with a single category
 * (how segment_anything calls it): boxes in score order, each kept box suppresses the later
 * ones whose IoU with it is above the threshold.
 */
import type { BoxXyxy } from "./grid.js";

const f32 = Math.fround;

/**
 * Indices of the kept boxes, highest score first. Arithmetic follows torchvision's CPU kernel
 * (`nms_kernel_impl`): float32 boxes, area `(x2-x1)*(y2-y1)` (no +1), suppression when
 * IoU > threshold (strictly). Ties in score keep the input order; torchvision sorts with an
 * unstable `torch.sort`, whose order among equal scores is unspecified.
 */
export function nms(boxes: readonly BoxXyxy[], scores: ArrayLike<number>, iouThreshold: number): number[] {
  const n = boxes.length;
  if (scores.length !== n) throw new Error(`nms: ${n} boxes but ${scores.length} scores.`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => f32(scores[b]!) - f32(scores[a]!) || a - b);
  const area = boxes.map((b) => f32(f32(b[2] - b[0]) * f32(b[3] - b[1])));
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (let oi = 0; oi < n; oi++) {
    const i = order[oi]!;
    if (suppressed[i]) continue;
    keep.push(i);
    const bi = boxes[i]!;
    for (let oj = oi + 1; oj < n; oj++) {
      const j = order[oj]!;
      if (suppressed[j]) continue;
      const bj = boxes[j]!;
      const w = Math.max(0, f32(Math.min(bi[2], bj[2]) - Math.max(bi[0], bj[0])));
      const h = Math.max(0, f32(Math.min(bi[3], bj[3]) - Math.max(bi[1], bj[1])));
      const inter = f32(w * h);
      const iou = f32(inter / f32(f32(area[i]! + area[j]!) - inter));
      if (iou > iouThreshold) suppressed[j] = 1;
    }
  }
  return keep;
}
