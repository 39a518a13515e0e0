/**
 * Masks and prompts drawn over an image, as RGB pixels (PNG encoding is the caller's).
 * Colours are fixed per label so that an object keeps its colour across pictures.
 */
import type { RgbImage8 } from "../io/image.js";
import type { Point } from "../sam/prompt.js";
import { pointToDisplayScale, scaleBands, toDisplayScale, type PixelSpacing } from "./display-scale.js";

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

/** A prompt point to draw, with its own size (the teaching view draws the newest larger). */
export interface Marker {
  readonly x: number;
  readonly y: number;
  readonly positive: boolean;
  /** Half-length of the cross arms in pixels (default 4). */
  readonly size?: number;
}

const POSITIVE_COLOR = [0, 230, 0] as const;
const NEGATIVE_COLOR = [230, 0, 0] as const;

/**
 * Crosses with a dark rim (so they stay visible on bright masks): green positive, red negative.
 * Returns a new image.
 */
export function drawMarkers(base: RgbImage8, markers: readonly Marker[]): RgbImage8 {
  const { width, height } = base;
  const out = new Uint8Array(base.data);
  const put = (x: number, y: number, c: readonly number[]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    out.set(c, 3 * (y * width + x));
  };
  for (const m of markers) {
    const cx = Math.round(m.x);
    const cy = Math.round(m.y);
    const s = Math.max(1, Math.round(m.size ?? 4));
    for (let d = -s - 1; d <= s + 1; d++) {
      for (const w of [-1, 0, 1]) {
        put(cx + d, cy + w, [0, 0, 0]);
        put(cx + w, cy + d, [0, 0, 0]);
      }
    }
    const color = m.positive ? POSITIVE_COLOR : NEGATIVE_COLOR;
    for (let d = -s; d <= s; d++) {
      put(cx + d, cy, color);
      put(cx, cy + d, color);
    }
  }
  return { width, height, data: out };
}

/** The boundary pixels of a mask drawn opaque in one colour (e.g. the ground truth in white). */
export function drawOutline(base: RgbImage8, mask: Uint8Array, color: readonly [number, number, number]): RgbImage8 {
  const { width, height } = base;
  if (mask.length !== width * height) throw new Error(`mask has ${mask.length} pixels, the image ${width}x${height}.`);
  const out = new Uint8Array(base.data);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - width] || !mask[i + width];
      if (edge) out.set(color, 3 * i);
    }
  }
  return { width, height, data: out };
}

export interface LegendEntry {
  readonly color: readonly [number, number, number];
  readonly name: string;
}

/** Legend entries for the layers' labels, named from `names` (index or key = label). */
export function labelLegend(
  labels: Iterable<number>,
  names: readonly string[] | Readonly<Record<number, string>> = [],
): LegendEntry[] {
  const seen = [...new Set(labels)].sort((a, b) => a - b);
  return seen.map((label) => ({ color: labelColor(label), name: (names as Record<number, string>)[label] ?? `label ${label}` }));
}

const LEGEND_ROW = 22;

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The legend as SVG: colour swatches and names, one per row, plus the prompt-point key. */
export function legendSvg(entries: readonly LegendEntry[], options: { points?: boolean; width?: number } = {}): string {
  const rows = entries.length + (options.points ? 2 : 0);
  const width = options.width ?? 170;
  const height = Math.max(1, rows) * LEGEND_ROW + 10;
  const font = `font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13" fill="#222"`;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="${width}" height="${height}" fill="white"/>`];
  entries.forEach((e, i) => {
    const y = 8 + i * LEGEND_ROW;
    parts.push(`<rect x="8" y="${y}" width="16" height="14" fill="rgb(${e.color.join(",")})"/>`);
    parts.push(`<text x="32" y="${y + 12}" ${font}>${escapeXml(e.name)}</text>`);
  });
  if (options.points) {
    const y = 8 + entries.length * LEGEND_ROW;
    parts.push(`<path d="M10 ${y + 7}h12M16 ${y + 1}v12" stroke="rgb(0,230,0)" stroke-width="3"/><text x="32" y="${y + 12}" ${font}>positive point</text>`);
    parts.push(`<path d="M10 ${y + 29}h12M16 ${y + 23}v12" stroke="rgb(230,0,0)" stroke-width="3"/><text x="32" y="${y + 34}" ${font}>negative point</text>`);
  }
  parts.push("</svg>");
  return parts.join("");
}

/**
 * Image + masks + prompts as PNG, with a legend to the right naming each label (fonts come from
 * the system through librsvg; without any font the swatches still show, the names do not).
 * `aspect` (mm per pixel along x and y, e.g. a ViewMapping's `pixelSpacing`) draws an
 * anisotropic slice at millimetre scale (toDisplayScale), masks and points with it.
 */
export async function overlayPng(
  base: RgbImage8,
  layers: readonly OverlayLayer[],
  points: readonly Point[] = [],
  options: { alpha?: number; names?: readonly string[] | Readonly<Record<number, string>>; legend?: boolean; aspect?: PixelSpacing } = {},
): Promise<Buffer> {
  const { default: sharp } = await import("sharp");
  const aspect = options.aspect;
  if (aspect) {
    for (const l of layers) {
      if (l.mask.length !== base.width * base.height) throw new Error(`mask has ${l.mask.length} pixels, the image ${base.width}x${base.height}.`);
    }
    layers = layers.map((l) => ({ ...l, mask: scaleBands(l.mask, base.width, base.height, 1, aspect).data }));
    points = points.map((p) => pointToDisplayScale(p, base.width, base.height, aspect));
    base = toDisplayScale(base, aspect);
  }
  const img = drawOverlay(base, layers, points, options.alpha);
  const raw = { raw: { width: img.width, height: img.height, channels: 3 as const } };
  if (options.legend === false || (layers.length === 0 && points.length === 0)) {
    return sharp(img.data, raw).png().toBuffer();
  }
  const svg = legendSvg(labelLegend(layers.map((l) => l.label), options.names), { points: points.length > 0 });
  const legend = await sharp(Buffer.from(svg)).png().toBuffer();
  const meta = await sharp(legend).metadata();
  const lw = meta.width ?? 170;
  const lh = meta.height ?? 0;
  return sharp({ create: { width: img.width + lw, height: Math.max(img.height, lh), channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite([
      { input: Buffer.from(img.data), ...raw, left: 0, top: 0 },
      { input: legend, left: img.width, top: 0 },
    ])
    .png()
    .toBuffer();
}
