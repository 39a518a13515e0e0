/** Where a thumbnail looks: pure, so Node tests check it (candidates.ts draws with it). */

export interface CropRect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/**
 * The square the thumbnails show: the bounding box of every candidate, grown by a quarter on
 * each side (at least 8 px) and clipped to the slice; the whole slice when all are empty.
 */
export function thumbnailCrop(masks: readonly Uint8Array[], width: number, height: number): CropRect {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (const m of masks) {
    for (let y = 0, i = 0; y < height; y++) {
      for (let x = 0; x < width; x++, i++) {
        if (!m[i]) continue;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return { x: 0, y: 0, w: width, h: height };
  const side = Math.max(x1 - x0 + 1, y1 - y0 + 1);
  const grown = Math.min(Math.max(width, height), side + 2 * Math.max(8, Math.round(side / 4)));
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const w = Math.min(width, grown);
  const h = Math.min(height, grown);
  const x = Math.max(0, Math.min(width - w, Math.round(cx - w / 2)));
  const y = Math.max(0, Math.min(height - h, Math.round(cy - h / 2)));
  return { x, y, w, h };
}
