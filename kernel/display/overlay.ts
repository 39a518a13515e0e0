/**
 * Masks and prompts drawn over an image, as RGB pixels (PNG encoding is the caller's).
 * Colours are fixed per label so that an object keeps its colour across pictures.
 */
import type { RgbImage8 } from "../io/image.js";
import type { Point } from "../sam/prompt.js";

/** Distinguishable colours (Tableau 10), label 1 first. */
export const LABEL_COLORS: readonly (readonly [number, number, number])[] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];

export function labelColor(label: number): readonly [number, number, number] {
  return LABEL_COLORS[(label - 1) % LABEL_COLORS.length]!;
}

export interface OverlayLayer {
  /** width*height, nonzero = inside. */
  readonly mask: Uint8Array;
  readonly label: number;
}

/** Blends each mask's colour at `alpha` and draws its outline opaque; points as small crosses. */
export function drawOverlay(base: RgbImage8, layers: readonly OverlayLayer[], points: readonly Point[] = [], alpha = 0.45): RgbImage8 {
  const { width, height } = base;
  const out = new Uint8Array(base.data);
  for (const layer of layers) {
    const [r, g, b] = labelColor(layer.label);
    const m = layer.mask;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (!m[i]) continue;
        const edge =
          x === 0 || y === 0 || x === width - 1 || y === height - 1 || !m[i - 1] || !m[i + 1] || !m[i - width] || !m[i + width];
        const a = edge ? 1 : alpha;
        out[3 * i] = Math.round(out[3 * i]! * (1 - a) + r * a);
        out[3 * i + 1] = Math.round(out[3 * i + 1]! * (1 - a) + g * a);
        out[3 * i + 2] = Math.round(out[3 * i + 2]! * (1 - a) + b * a);
      }
    }
  }
  for (const p of points) {
    const color = p.positive ? [0, 230, 0] : [230, 0, 0];
    const cx = Math.round(p.x);
    const cy = Math.round(p.y);
    for (let d = -4; d <= 4; d++) {
      for (const [x, y] of [[cx + d, cy], [cx, cy + d]] as const) {
        if (x < 0 || y < 0 || x >= width || y >= height) continue;
        const i = y * width + x;
        out.set(color, 3 * i);
      }
    }
  }
  return { width, height, data: out };
}
