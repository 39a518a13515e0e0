/**
 * Drawing shared by the teaching pictures (the protocol's rounds, the decoder's candidates): a
 * prediction shaded against the truth (correct / missed / spilled), a box frame, and a zoomed
 * crop around the object in which every image pixel becomes a whole block, so that masks stay
 * exact and points land on the centre of their pixel.
 */
import type { RgbImage8 } from "../io/image.js";
import type { Box, Point } from "../sam/prompt.js";
import { drawMarkers, drawOutline, labelColor, type LegendEntry } from "./overlay.js";

/** Yellow reads on grey anatomy and on every label colour. */
export const TARGET_COLOR = [255, 220, 0] as const;
/** Object pixels the prediction left out (false negatives). */
export const MISSED_COLOR = [230, 0, 230] as const;
/** Prediction pixels outside the object (false positives). */
export const SPILLED_COLOR = [0, 215, 255] as const;
/** The box prompt: white with a dark rim, apart from the yellow truth and the green/red points. */
export const BOX_COLOR = [255, 255, 255] as const;
/** The legend's swatch for it (white would vanish on the white legend). */
const BOX_SWATCH = [150, 150, 150] as const;

const FILL_ALPHA = 0.4;
const ERROR_ALPHA = 0.6;

/** The part of the image a panel shows, each pixel drawn as a `scale` x `scale` block. */
export interface Crop {
  readonly x0: number;
  readonly y0: number;
  readonly width: number;
  readonly height: number;
  readonly scale: number;
}

export function fullFrame(image: { width: number; height: number }): Crop {
  return { x0: 0, y0: 0, width: image.width, height: image.height, scale: 1 };
}

/**
 * The crop around `region` (x1, y1 exclusive) grown by `margin` pixels (default 40 % of the
 * region's larger side, at least 8), enlarged by a whole factor (at most 8) to at least
 * `panelWidth` pixels.
 */
export function zoomCrop(image: { width: number; height: number }, region: Box, margin?: number, panelWidth = 240): Crop {
  const { x0, y0, x1, y1 } = region;
  const m = margin ?? Math.max(8, Math.round(0.4 * Math.max(x1 - x0, y1 - y0)));
  if (!(Number.isFinite(m) && m >= 0)) throw new Error(`zoom margin must be a number of pixels >= 0, got ${m}.`);
  const cx0 = Math.max(0, Math.floor(x0 - m));
  const cy0 = Math.max(0, Math.floor(y0 - m));
  const cx1 = Math.min(image.width, Math.ceil(x1 + m));
  const cy1 = Math.min(image.height, Math.ceil(y1 + m));
  const width = cx1 - cx0;
  const height = cy1 - cy0;
  const scale = Math.max(1, Math.min(8, Math.ceil(panelWidth / width)));
  return { x0: cx0, y0: cy0, width, height, scale };
}

/** The smallest box (x1, y1 exclusive) holding all boxes and points given. */
export function boundingRegion(boxes: readonly Box[], points: readonly { x: number; y: number }[]): Box {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const b of [...boxes, ...points.map((p) => ({ x0: p.x, y0: p.y, x1: p.x + 1, y1: p.y + 1 }))]) {
    x0 = Math.min(x0, b.x0);
    y0 = Math.min(y0, b.y0);
    x1 = Math.max(x1, b.x1);
    y1 = Math.max(y1, b.y1);
  }
  if (!Number.isFinite(x0)) throw new Error("nothing to zoom on: no box and no point.");
  return { x0, y0, x1, y1 };
}

/** The bounding box (x1, y1 exclusive) of a mask's pixels, or undefined when it is empty. */
export function maskRegion(mask: Uint8Array, width: number): Box | undefined {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const x = i % width;
    const y = Math.floor(i / width);
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x + 1);
    y1 = Math.max(y1, y + 1);
  }
  return Number.isFinite(x0) ? { x0, y0, x1, y1 } : undefined;
}

/** The crop of a row-major single-band or RGB array, each pixel repeated `scale` x `scale` times. */
export function cropScaled(data: Uint8Array, imageWidth: number, bands: number, c: Crop): Uint8Array {
  const w = c.width * c.scale;
  const out = new Uint8Array(w * c.height * c.scale * bands);
  for (let y = 0; y < c.height * c.scale; y++) {
    const sy = c.y0 + Math.floor(y / c.scale);
    for (let x = 0; x < w; x++) {
      const si = (sy * imageWidth + c.x0 + Math.floor(x / c.scale)) * bands;
      for (let b = 0; b < bands; b++) out[(y * w + x) * bands + b] = data[si + b]!;
    }
  }
  return out;
}

function blend(out: Uint8Array, i: number, color: readonly number[], a: number): void {
  for (let k = 0; k < 3; k++) out[3 * i + k] = Math.round(out[3 * i + k]! * (1 - a) + color[k]! * a);
}

/**
 * The prediction drawn over the image: correct pixels in the label colour with an opaque edge;
 * with a target and shading, missed pixels in magenta and spilled ones in cyan.
 */
export function drawPrediction(base: RgbImage8, mask: Uint8Array, target: Uint8Array | undefined, color: readonly number[], shade: boolean): RgbImage8 {
  const { width, height } = base;
  const out = new Uint8Array(base.data);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const inTarget = target !== undefined && target[i] !== 0;
      if (!mask[i]) {
        if (shade && inTarget) blend(out, i, MISSED_COLOR, ERROR_ALPHA);
        continue;
      }
      if (shade && target && !inTarget) {
        blend(out, i, SPILLED_COLOR, ERROR_ALPHA);
        continue;
      }
      const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - width] || !mask[i + width];
      blend(out, i, color, edge ? 1 : FILL_ALPHA);
    }
  }
  return { width, height, data: out };
}

/** A rectangle outline two pixels wide with a dark rim outside. */
function drawFrame(base: RgbImage8, x0: number, y0: number, x1: number, y1: number): RgbImage8 {
  const { width, height } = base;
  const out = new Uint8Array(base.data);
  const put = (x: number, y: number, c: readonly number[]) => {
    if (x >= 0 && y >= 0 && x < width && y < height) out.set(c, 3 * (y * width + x));
  };
  const ring = (d: number, c: readonly number[]) => {
    for (let x = x0 - d; x <= x1 + d; x++) {
      put(x, y0 - d, c);
      put(x, y1 + d, c);
    }
    for (let y = y0 - d; y <= y1 + d; y++) {
      put(x0 - d, y, c);
      put(x1 + d, y, c);
    }
  };
  ring(2, [0, 0, 0]);
  ring(1, BOX_COLOR);
  ring(0, BOX_COLOR);
  return { width, height, data: out };
}

export interface PanelLayers {
  readonly mask: Uint8Array;
  readonly label: number;
  readonly target?: Uint8Array;
  readonly shade: boolean;
  readonly box?: Box;
  /** Points with the arm length of their cross in image pixels (newer ones drawn larger). */
  readonly points: readonly (Point & { readonly size: number })[];
}

/** One teaching panel: image, prediction, true outline, box, points, all in the crop. */
export function drawTeachingPanel(image: RgbImage8, crop: Crop, layers: PanelLayers): RgbImage8 {
  const s = crop.scale;
  const view = (data: Uint8Array, bands: number) => cropScaled(data, image.width, bands, crop);
  const base: RgbImage8 = { width: crop.width * s, height: crop.height * s, data: view(image.data, 3) };
  const target = layers.target ? view(layers.target, 1) : undefined;
  let pic = drawPrediction(base, view(layers.mask, 1), target, labelColor(layers.label), layers.shade && target !== undefined);
  if (target) pic = drawOutline(pic, target, TARGET_COLOR);
  if (layers.box) {
    // The box's corners are pixel edges (x1, y1 exclusive): frame it just outside the pixels it holds.
    const b = layers.box;
    pic = drawFrame(pic, Math.round((b.x0 - crop.x0) * s) - 1, Math.round((b.y0 - crop.y0) * s) - 1, Math.round((b.x1 - crop.x0) * s), Math.round((b.y1 - crop.y0) * s));
  }
  /** Image pixel -> the centre of its block in the panel. */
  const at = (v: number, origin: number) => Math.round((v - origin) * s + (s - 1) / 2);
  return drawMarkers(
    pic,
    layers.points.map((p) => ({ x: at(p.x, crop.x0), y: at(p.y, crop.y0), positive: p.positive, size: p.size + (s > 2 ? 2 : 0) })),
  );
}

/** Legend entries for the shading, the truth and the box. */
export function teachingLegend(shade: boolean, target: boolean, box: boolean): LegendEntry[] {
  return [
    ...(shade ? [{ color: MISSED_COLOR, name: "missed (FN)" }, { color: SPILLED_COLOR, name: "spilled (FP)" }] : []),
    ...(target ? [{ color: TARGET_COLOR, name: "true outline" }] : []),
    ...(box ? [{ color: BOX_SWATCH, name: "box (white)" }] : []),
  ];
}
