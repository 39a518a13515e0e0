/**
 * The brush's footprint: discs of a radius stamped along the pointer's path into a 0/1 mask of
 * the slice. Shared so the browser (which paints while the pointer moves and sends the mask
 * once, run-length encoded, when the stroke ends) and the tests stamp the same pixels.
 */

/** The pixels a stamp changed, to redraw only them. */
export interface DirtyRect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** Brush radius limits in image pixels ([ and ] step between them). */
export const MIN_BRUSH = 1;
export const MAX_BRUSH = 64;
export const DEFAULT_BRUSH = 5;

/** The next brush radius for [ (down) or ] (up): steps of about 20 %, at least one pixel. */
export function stepBrush(radius: number, up: boolean): number {
  const step = Math.max(1, Math.round(radius * 0.2));
  return Math.min(MAX_BRUSH, Math.max(MIN_BRUSH, up ? radius + step : radius - step));
}

/**
 * Sets to 1 every pixel of `mask` (width x height, row-major) within `radius` of the segment
 * from (x0, y0) to (x1, y1), pixel centres at integers: closer than `radius` (radius 1 paints
 * the pixel under the pointer only). Returns the rectangle
 * touched (clipped to the slice), or undefined when it lies off the slice.
 */
export function stampSegment(mask: Uint8Array, width: number, height: number, x0: number, y0: number, x1: number, y1: number, radius: number): DirtyRect | undefined {
  const r = Math.max(radius, 0.5);
  const left = Math.max(0, Math.floor(Math.min(x0, x1) - r));
  const right = Math.min(width - 1, Math.ceil(Math.max(x0, x1) + r));
  const top = Math.max(0, Math.floor(Math.min(y0, y1) - r));
  const bottom = Math.min(height - 1, Math.ceil(Math.max(y0, y1) + r));
  if (left > right || top > bottom) return undefined;
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len2 = dx * dx + dy * dy;
  const r2 = r * r;
  for (let y = top; y <= bottom; y++) {
    for (let x = left; x <= right; x++) {
      // distance from the pixel centre to the segment
      let t = len2 > 0 ? ((x - x0) * dx + (y - y0) * dy) / len2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const ex = x - (x0 + t * dx);
      const ey = y - (y0 + t * dy);
      if (ex * ex + ey * ey < r2) mask[y * width + x] = 1;
    }
  }
  return { x: left, y: top, w: right - left + 1, h: bottom - top + 1 };
}
