/**
 * The teaching view of the simulated interactive segmentation: one picture per round with the
 * object's true outline (yellow), the prediction (pixels it got right in the label colour, the
 * ones it missed and the ones it spilled onto shaded apart), the box of a box start, every prompt
 * point so far (the newest larger), and a caption with the round's Dice, true and predicted IoU
 * and where the round's new points came from -- how interactive segmentation behaves click after
 * click. `zoom` crops to the object and enlarges it, so that a 30-pixel organ stays readable.
 */
import type { ObjectRun, RoundResult } from "../evaluation/protocol.js";
import type { NegativeSource, PositiveSource } from "../evaluation/protocol-prompts.js";
import type { RgbImage8 } from "../io/image.js";
import type { Box } from "../sam/prompt.js";
import { ImageGrid } from "./figures-images.js";
import { drawMarkers, drawOutline, labelColor, labelLegend, type LegendEntry, type Marker } from "./overlay.js";

/** Yellow reads on grey anatomy and on every label colour. */
const TARGET_COLOR = [255, 220, 0] as const;
/** Object pixels the prediction left out (false negatives). */
export const MISSED_COLOR = [230, 0, 230] as const;
/** Prediction pixels outside the object (false positives). */
export const SPILLED_COLOR = [0, 215, 255] as const;
/** The box prompt: white with a dark rim, apart from the yellow truth and the green/red points. */
const BOX_COLOR = [255, 255, 255] as const;
/** The legend's swatch for it (white would vanish on the white legend). */
const BOX_SWATCH = [150, 150, 150] as const;

const FILL_ALPHA = 0.4;
const ERROR_ALPHA = 0.6;

export interface TeachingViewOptions {
  /** The object's true mask: its yellow outline, and the missed / spilled shading. */
  readonly target?: Uint8Array;
  /** Label names for the legend (index = class id). */
  readonly names?: readonly string[];
  readonly columns?: number;
  readonly panelWidth?: number;
  /**
   * Crop every panel to the object (its box, the box prompt and all points, plus a margin) and
   * enlarge it by a whole factor (at most 8) so that it fills at least `panelWidth` (default 240)
   * pixels. `true`
   * uses a margin of 40 % of the object's size (at least 8 px); a number sets the margin in pixels.
   */
  readonly zoom?: boolean | number;
  /** Shade missed and spilled pixels apart from correct ones (default true when `target` is given). */
  readonly shadeErrors?: boolean;
}

const POSITIVE_SOURCE: Record<PositiveSource, string> = {
  "false-negative": "+ on missed",
  "true-positive": "+ inside (none missed)",
};
const NEGATIVE_SOURCE: Record<NegativeSource, string> = {
  "false-positive": "− on spilled",
  "box-ring": "− box ring (none spilled)",
};

/** Where the round's new points came from, in the protocol's words (round 0: the start prompt). */
export function roundSources(run: ObjectRun, round: RoundResult): string {
  if (round.round === 0) {
    if (run.start === "box") return "start: the box";
    return `start: one click, token ${round.token}`;
  }
  const parts = [round.positiveSource ? POSITIVE_SOURCE[round.positiveSource] : undefined, round.negativeSource ? NEGATIVE_SOURCE[round.negativeSource] : undefined];
  return `new: ${parts.filter((p) => p !== undefined).join(", ")}`;
}

interface Crop {
  readonly x0: number;
  readonly y0: number;
  readonly width: number;
  readonly height: number;
  readonly scale: number;
}

/** The region every panel shows, and how much it is enlarged. */
function cropFor(image: RgbImage8, run: ObjectRun, options: TeachingViewOptions): Crop {
  const full: Crop = { x0: 0, y0: 0, width: image.width, height: image.height, scale: 1 };
  if (!options.zoom) return full;
  let { x0, y0, x1, y1 } = run.box;
  const grow = (b: Box | { x: number; y: number }) => {
    const [bx0, by0, bx1, by1] = "x" in b ? [b.x, b.y, b.x + 1, b.y + 1] : [b.x0, b.y0, b.x1, b.y1];
    x0 = Math.min(x0, bx0);
    y0 = Math.min(y0, by0);
    x1 = Math.max(x1, bx1);
    y1 = Math.max(y1, by1);
  };
  for (const r of run.rounds) {
    if (r.box) grow(r.box);
    for (const p of r.points) grow(p);
  }
  const margin = typeof options.zoom === "number" ? options.zoom : Math.max(8, Math.round(0.4 * Math.max(x1 - x0, y1 - y0)));
  if (!(Number.isFinite(margin) && margin >= 0)) throw new Error(`zoom margin must be a number of pixels >= 0, got ${margin}.`);
  const cx0 = Math.max(0, Math.floor(x0 - margin));
  const cy0 = Math.max(0, Math.floor(y0 - margin));
  const cx1 = Math.min(image.width, Math.ceil(x1 + margin));
  const cy1 = Math.min(image.height, Math.ceil(y1 + margin));
  const width = cx1 - cx0;
  const height = cy1 - cy0;
  const scale = Math.max(1, Math.min(8, Math.ceil((options.panelWidth ?? 240) / width)));
  return { x0: cx0, y0: cy0, width, height, scale };
}

/** The crop of a row-major single-band or RGB array, each pixel repeated `scale` x `scale` times. */
function cropScaled<T extends Uint8Array>(data: T, imageWidth: number, bands: number, c: Crop): Uint8Array {
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
function drawPrediction(base: RgbImage8, mask: Uint8Array, target: Uint8Array | undefined, color: readonly number[], shade: boolean): RgbImage8 {
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
function drawBox(base: RgbImage8, x0: number, y0: number, x1: number, y1: number): RgbImage8 {
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

export function teachingPanels(image: RgbImage8, run: ObjectRun, options: TeachingViewOptions = {}): { image: RgbImage8; caption: string }[] {
  const n = image.width * image.height;
  if (options.target && options.target.length !== n) {
    throw new Error(`target has ${options.target.length} pixels but the image is ${image.width}x${image.height}.`);
  }
  const crop = cropFor(image, run, options);
  const s = crop.scale;
  const view = (data: Uint8Array, bands: number) => cropScaled(data, image.width, bands, crop);
  const base: RgbImage8 = { width: crop.width * s, height: crop.height * s, data: view(image.data, 3) };
  const target = options.target ? view(options.target, 1) : undefined;
  const shade = (options.shadeErrors ?? true) && target !== undefined;
  /** Image pixel -> the centre of its block in the panel. */
  const at = (v: number, origin: number) => Math.round((v - origin) * s + (s - 1) / 2);
  const markerSize = (newest: boolean) => (newest ? 7 : 4) + (s > 2 ? 2 : 0);
  return run.rounds.map((r) => {
    if (!r.mask) {
      throw new Error("the protocol run has no masks; run it with { keepMasks: true } to draw the teaching view.");
    }
    if (r.mask.length !== n) {
      throw new Error(`round masks are ${r.mask.length} pixels but the image is ${image.width}x${image.height}.`);
    }
    let pic = drawPrediction(base, view(r.mask, 1), target, labelColor(run.classId), shade);
    if (target) pic = drawOutline(pic, target, TARGET_COLOR);
    if (r.box) {
      // The box's corners are pixel edges (x1, y1 exclusive): draw it just outside the pixels it holds.
      const bx0 = Math.round((r.box.x0 - crop.x0) * s) - 1;
      const by0 = Math.round((r.box.y0 - crop.y0) * s) - 1;
      const bx1 = Math.round((r.box.x1 - crop.x0) * s);
      const by1 = Math.round((r.box.y1 - crop.y0) * s);
      pic = drawBox(pic, bx0, by0, bx1, by1);
    }
    const previous = run.rounds[r.round - 1]?.points.length ?? 0;
    const markers: Marker[] = r.points.map((p, i) => ({
      x: at(p.x, crop.x0),
      y: at(p.y, crop.y0),
      positive: p.positive,
      size: markerSize(i >= previous),
    }));
    pic = drawMarkers(pic, markers);
    const what = r.round === 0 ? `${run.start} start` : `round ${r.round}`;
    const caption = [`${what} · Dice ${r.dice.toFixed(3)}`, `IoU ${r.iou.toFixed(2)} · predicted ${r.predictedIou.toFixed(2)}`, roundSources(run, r)];
    return { image: pic, caption: caption.join("\n") };
  });
}

export function teachingView(image: RgbImage8, run: ObjectRun, options: TeachingViewOptions = {}): ImageGrid {
  const name = options.names?.[run.classId] ?? `label ${run.classId}`;
  const panels = teachingPanels(image, run, options);
  const shade = (options.shadeErrors ?? true) && options.target !== undefined;
  const legend: LegendEntry[] = [
    ...labelLegend([run.classId], options.names ?? []).map((e) => ({ ...e, name: `${e.name}${shade ? ", correct" : " (prediction)"}` })),
    ...(shade ? [{ color: MISSED_COLOR, name: "missed (FN)" }, { color: SPILLED_COLOR, name: "spilled (FP)" }] : []),
    ...(options.target ? [{ color: TARGET_COLOR, name: "true outline" }] : []),
    ...(run.start === "box" ? [{ color: BOX_SWATCH, name: "box (white)" }] : []),
  ];
  const zoomed = panels[0]!.image.width !== image.width || panels[0]!.image.height !== image.height;
  return new ImageGrid(panels, {
    title:
      `${name}, object ${run.component + 1}: ${run.start} start and ${run.rounds.length - 1} correction rounds` +
      (zoomed ? " (zoomed on the object)" : ""),
    columns: options.columns ?? 4,
    panelWidth: options.panelWidth ?? (zoomed ? panels[0]!.image.width : Math.min(240, image.width)),
    legend,
    pointsLegend: true,
  });
}
