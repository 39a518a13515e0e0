/**
 * Prompts to the decoder's `point_coords` / `point_labels` tensors (docs/inference.md §2 and §4).
 * The one place where original-pixel coordinates become 1024-frame coordinates.
 */
import type { Size2D } from "../io/image.js";
import type { Box, Point, Prompt } from "./prompt.js";

/** Labels of the official decoder. */
export const LABEL = { negative: 0, positive: 1, boxTopLeft: 2, boxBottomRight: 3, padding: -1 } as const;

export class PromptError extends Error {
  override name = "PromptError";
}

/**
 * Original pixels to the resized (1024) frame: per axis by (new / old) with the rounded
 * resized sizes, in float64; the caller stores float32 as SamPredictor's transform does.
 */
export function toModelFrame(x: number, y: number, original: Size2D, resized: Size2D): { x: number; y: number } {
  return { x: x * (resized.width / original.width), y: y * (resized.height / original.height) };
}

function checkCoordinate(what: string, x: number, y: number, size: Size2D): void {
  if (!Number.isFinite(x) || !Number.isFinite(y)) throw new PromptError(`${what} has a non-finite coordinate (${x}, ${y}).`);
  if (x < 0 || y < 0 || x > size.width || y > size.height) {
    throw new PromptError(
      `${what} (x=${x}, y=${y}) is outside the ${size.width}x${size.height} image; ` +
        "x is the column and y the row, both in pixels of the original image.",
    );
  }
}

function checkPoint(p: Point, i: number, size: Size2D): void {
  if (typeof p.positive !== "boolean") {
    throw new PromptError(`point ${i} needs 'positive: true' (foreground) or 'positive: false' (background).`);
  }
  checkCoordinate(`point ${i}`, p.x, p.y, size);
}

function checkBox(b: Box, size: Size2D): void {
  checkCoordinate("box corner (x0, y0)", b.x0, b.y0, size);
  checkCoordinate("box corner (x1, y1)", b.x1, b.y1, size);
  if (b.x1 < b.x0 || b.y1 < b.y0) {
    throw new PromptError(`box (x0=${b.x0}, y0=${b.y0}, x1=${b.x1}, y1=${b.y1}) needs x0 <= x1 and y0 <= y1.`);
  }
}

export interface PromptTensors {
  /** [N, 2] (x, y) in the 1024 frame, float32. */
  readonly coords: Float32Array;
  /** [N] labels, float32. */
  readonly labels: Float32Array;
  readonly count: number;
}

/**
 * Points first, then the box corners (labels 2, 3), as the official ONNX example does.
 * Without a box, one padding point (0, 0) with label -1 is appended, because the
 * PyTorch prompt encoder pads point prompts that have no box; with a box it does not.
 * A prompt with only a mask gets just the padding point (the ONNX graph needs N >= 1).
 * Coordinates are validated, never clipped: a point outside the image is an error.
 */
export function encodePrompt(prompt: Prompt, original: Size2D, resized: Size2D): PromptTensors {
  const points = prompt.points ?? [];
  if (points.length === 0 && !prompt.box && !prompt.mask) {
    throw new PromptError("empty prompt: give at least one point, a box or a mask.");
  }
  points.forEach((p, i) => checkPoint(p, i, original));
  if (prompt.box) checkBox(prompt.box, original);

  const count = points.length + (prompt.box ? 2 : 1);
  const coords = new Float32Array(count * 2);
  const labels = new Float32Array(count);
  let k = 0;
  const put = (x: number, y: number, label: number): void => {
    const m = toModelFrame(x, y, original, resized);
    coords[2 * k] = m.x;
    coords[2 * k + 1] = m.y;
    labels[k] = label;
    k++;
  };
  for (const p of points) put(p.x, p.y, p.positive ? LABEL.positive : LABEL.negative);
  if (prompt.box) {
    put(prompt.box.x0, prompt.box.y0, LABEL.boxTopLeft);
    put(prompt.box.x1, prompt.box.y1, LABEL.boxBottomRight);
  } else {
    coords[2 * k] = 0;
    coords[2 * k + 1] = 0;
    labels[k] = LABEL.padding;
    k++;
  }
  return { coords, labels, count };
}
