/**
 * Where the image sits on the stage: a scale and an offset in CSS pixels (the pixel aspect
 * stretches rows), and the geometry of pointer input in those terms. Pure, so Node tests
 * check it; input.ts and draw.ts apply it to the DOM.
 *
 * Image pixel (x, y) covers [x, x+1) x [y, y+1) in image space: its centre is drawn at
 * (ox + (x + 0.5) * scale, oy + (y + 0.5) * scale * aspect).
 */
import type { WirePrompts } from "../common/state.js";

export interface Viewport {
  readonly scale: number;
  readonly ox: number;
  readonly oy: number;
}

/** Screen distance (CSS px) under which a press-release is a click. */
export const CLICK_SLOP = 4;
/** Screen distance (CSS px) within which a click hits a prompt (and deletes it). */
export const HIT_RADIUS = 7;
const MIN_SCALE = 0.05;
const MAX_SCALE = 64;

/** The whole image, centred, as large as the stage allows. */
export function fitView(stage: { w: number; h: number }, width: number, height: number, aspect: number): Viewport {
  const scale = Math.min(stage.w / width, stage.h / (height * aspect));
  return { scale, ox: (stage.w - width * scale) / 2, oy: (stage.h - height * aspect * scale) / 2 };
}

/** Stage point -> image pixel (x, y floored) and the fractional position. */
export function toImage(v: Viewport, aspect: number, sx: number, sy: number): { x: number; y: number; fx: number; fy: number } {
  const fx = (sx - v.ox) / v.scale;
  const fy = (sy - v.oy) / (v.scale * aspect);
  return { x: Math.floor(fx), y: Math.floor(fy), fx, fy };
}

/** Centre of image pixel (x, y) on the stage. */
export function toScreen(v: Viewport, aspect: number, x: number, y: number): { sx: number; sy: number } {
  return { sx: v.ox + (x + 0.5) * v.scale, sy: v.oy + (y + 0.5) * v.scale * aspect };
}

/** Zooms by `factor` keeping the stage point (sx, sy) over the same image point. */
export function zoomAt(v: Viewport, sx: number, sy: number, factor: number): Viewport {
  const scale = Math.max(MIN_SCALE, Math.min(MAX_SCALE, v.scale * factor));
  const f = scale / v.scale;
  return { scale, ox: sx - (sx - v.ox) * f, oy: sy - (sy - v.oy) * f };
}

/** The prompt of slice z a click at stage point (sx, sy) hits: the nearest point, else a box edge. */
export function hitPrompt(prompts: WirePrompts, z: number, v: Viewport, aspect: number, sx: number, sy: number): number | undefined {
  let best: { id: number; d: number } | undefined;
  for (const p of prompts.points) {
    if (p.z !== z) continue;
    const s = toScreen(v, aspect, p.x, p.y);
    const d = Math.hypot(s.sx - sx, s.sy - sy);
    if (d <= HIT_RADIUS && (!best || d < best.d)) best = { id: p.id, d };
  }
  if (best) return best.id;
  for (const b of prompts.boxes) {
    if (b.z !== z) continue;
    const p0 = toScreen(v, aspect, b.x0 - 0.5, b.y0 - 0.5);
    const p1 = toScreen(v, aspect, b.x1 + 0.5, b.y1 + 0.5);
    const nearX = sx >= p0.sx - HIT_RADIUS && sx <= p1.sx + HIT_RADIUS;
    const nearY = sy >= p0.sy - HIT_RADIUS && sy <= p1.sy + HIT_RADIUS;
    const onEdge =
      (nearY && (Math.abs(sx - p0.sx) <= HIT_RADIUS || Math.abs(sx - p1.sx) <= HIT_RADIUS)) ||
      (nearX && (Math.abs(sy - p0.sy) <= HIT_RADIUS || Math.abs(sy - p1.sy) <= HIT_RADIUS));
    if (onEdge) return b.id;
  }
  return undefined;
}

const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, v));

/**
 * The box a drag between image pixels a and b draws: dragged past the edge means "to the
 * edge", so the corners are clamped (the kernel refuses anything outside); a drag wholly off
 * one side of the image draws nothing.
 */
export function dragBox(
  a: { x: number; y: number },
  b: { x: number; y: number },
  width: number,
  height: number,
): { x0: number; y0: number; x1: number; y1: number } | undefined {
  const off = (a.x < 0 && b.x < 0) || (a.y < 0 && b.y < 0) || (a.x >= width && b.x >= width) || (a.y >= height && b.y >= height);
  if (off) return undefined;
  return {
    x0: clamp(Math.min(a.x, b.x), width - 1),
    x1: clamp(Math.max(a.x, b.x), width - 1),
    y0: clamp(Math.min(a.y, b.y), height - 1),
    y1: clamp(Math.max(a.y, b.y), height - 1),
  };
}
