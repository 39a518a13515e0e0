/**
 * The segmentation canvas's contract between kernel and browser: the synced state, the
 * messages, and the checks the kernel applies to everything a front end sends.
 *
 * Both sides import this file (the browser bundle too), so it holds no Node or DOM code.
 * The kernel is the single source of truth: a front end sends *actions* (add a point, commit,
 * undo...) and draws what the kernel's state says. That is why a reload, a second view, or a
 * misbehaving page can never disagree with `w.labels`.
 *
 * Coordinates are (x, y) = (column, row) in pixels of the displayed slice, with pixel centres
 * at integers, and z = slice index in the displayed view. A 2D image has depth 1.
 */

import { decodeRle, fromBase64 } from "./mask-codec.js";

/** npm name of the front-end package: the module the widget manager loads our classes from. */
export const MODULE_NAME = "medicosam-widgets";
export const MODULE_VERSION = "0.1.0";
/** What the kernel asks for: any front end with the same major version speaks this protocol. */
export const MODULE_SEMVER = "^0.1.0";
export const MODEL_NAME = "SegmentCanvasModel";
export const VIEW_NAME = "SegmentCanvasView";

/** How pixel values travel: the source's own type when it is 8 or 16 bit, float32 otherwise. */
export type PixelDtype = "uint8" | "int8" | "uint16" | "int16" | "float32";

export const BYTES_PER_SAMPLE: Readonly<Record<PixelDtype, number>> = { uint8: 1, int8: 1, uint16: 2, int16: 2, float32: 4 };

export interface WirePoint {
  readonly id: number;
  readonly x: number;
  readonly y: number;
  readonly z: number;
  readonly positive: boolean;
}

export interface WireBox {
  readonly id: number;
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
  readonly z: number;
}

/** The prompts of the object being segmented; at most one box per slice. */
export interface WirePrompts {
  readonly points: readonly WirePoint[];
  readonly boxes: readonly WireBox[];
}

export interface ObjectSummary {
  readonly label: number;
  /** The user's name for it ("object 3" until renamed); saved beside the labels. */
  readonly name: string;
  readonly voxels: number;
  /** Slices the object covers, ascending. */
  readonly slices: readonly number[];
}

/** One of SAM's answers to a single click (a multimask token, 1..3), offered to pick instead of the rule's choice. */
export interface WireCandidate {
  readonly token: number;
  /** The decoder's predicted IoU for this mask. */
  readonly iou: number;
  /** The token micro_sam's rule picked (highest predicted IoU among 1..3). */
  readonly chosen: boolean;
  readonly area: number;
  /** mask-codec RLE of the 0/1 slice, base64 (a few hundred bytes). */
  readonly mask: string;
}

/** The candidates of the single click on slice z; `shown` is the token the current mask is (0: none of them, e.g. after the brush). */
export interface CandidateSet {
  readonly z: number;
  readonly shown: number;
  readonly items: readonly WireCandidate[];
}

/** One slice a propagation decided (kernel/interactive/propagate.ts's SliceOutcome). */
export interface WireSliceOutcome {
  readonly z: number;
  /** Slice its prompt came from. */
  readonly from: number;
  /** "propagated": outward from the seeds, IoU-tested; "filled": between two seeds, untested. */
  readonly kind: "propagated" | "filled";
  /** False when refused (IoU with the previous slice under the threshold, or empty). */
  readonly written: boolean;
  /** The decoder's predicted IoU (null when the propagator does not report it). */
  readonly iou: number | null;
  /** IoU with the previous slice's mask (what the threshold tests), or null. */
  readonly overlap: number | null;
  readonly area: number;
}

/** How one direction of a propagation ended. */
export interface WireDirection {
  /** "iou" (under the threshold), "empty", "edge" (the volume ends), or a stop annotation / flag. */
  readonly reason: string;
  /** The slice it stopped at (refused, or -1 / depth at the volume's ends). */
  readonly stoppedAt: number;
  readonly lastWritten: number;
}

/** What the last propagation of the current object did, slice by slice: the strip under the canvas. */
export interface PropagationReport {
  /** Slices it started from. */
  readonly seeds: readonly number[];
  /** Slices the user fixed and propagated again from (F / `w.repropagate(z)`), beyond the seeds. */
  readonly restarts: readonly number[];
  /** IoU threshold of the stop test, when the propagator has one. */
  readonly threshold: number | null;
  readonly slices: readonly WireSliceOutcome[];
  readonly below: WireDirection | null;
  readonly above: WireDirection | null;
}

export interface WindowLevel {
  readonly level: number;
  readonly width: number;
}

export interface NamedWindow extends WindowLevel {
  readonly name: string;
}

/** Which front-end action (client, seq) the shown result answers: lets a view measure click-to-mask latency. */
export interface ActionRef {
  readonly client: string;
  readonly seq: number;
}

export type CanvasStatus = "embedding" | "ready" | "segmenting" | "propagating" | "proposing";

/**
 * A mask the automatic generator proposed ("segment everything", key A) on slice z, waiting to
 * be accepted (it becomes a committed object) or dropped. `mask` is its mask-codec RLE slice in
 * base64, as brush strokes travel; the numbers are segment_anything's record fields.
 */
export interface WireProposal {
  readonly id: number;
  readonly z: number;
  readonly mask: string;
  readonly area: number;
  /** [x, y, w, h], SAM's XYWH of the inclusive pixel box. */
  readonly bbox: readonly [number, number, number, number];
  readonly predicted_iou: number;
  readonly stability_score: number;
}

/**
 * The synced state (ipywidgets protocol 2.1). Binary fields travel as message buffers.
 * Written by the kernel; a front end may only change `slice` (any other key it sends is put
 * back and reported).
 */
export type SegmentCanvasState = {
  /** Image geometry: slice size, number of slices, samples per pixel (1 gray, 3 RGB). */
  width: number;
  height: number;
  depth: number;
  channels: number;
  dtype: PixelDtype;
  /** All slices, slice-major, row-major, channels interleaved, little-endian: sent once. */
  pixels: Uint8Array;
  /** Finite min and max of the pixel values (slider ends). */
  value_range: [number, number];
  /** Screen height of a pixel over its width (anisotropic voxels). */
  pixel_aspect: number;
  /** Screen orientation of a volume view, e.g. {left: "R", top: "A", toward: "S"}, or null for 2D. */
  orientation: { left: string; top: string; toward: string } | null;
  window: WindowLevel;
  window_presets: NamedWindow[];
  /** Label colours, label 1 first, cycled. */
  palette: [number, number, number][];
  /** Colour of the object being segmented. */
  highlight: [number, number, number];
  title: string;
  /** A line to show next to results (e.g. "analytic test model — not MedicoSAM"). */
  notice: string;

  slice: number;
  prompts: WirePrompts;
  /** The current object's mask, mask-codec stack (0/1). */
  current: Uint8Array;
  current_for: ActionRef | null;
  /** Committed labels, mask-codec stack of label ids. */
  labels: Uint8Array;
  /** The action the shown labels answer (a brush stroke's latency is measured by it). */
  labels_for: ActionRef | null;
  objects: ObjectSummary[];
  /** SAM's three masks for the single click the current mask answers, or null (any other prompts). */
  candidates: CandidateSet | null;
  /** The current object's last propagation, per slice, or null (none since the last commit or clear). */
  propagation: PropagationReport | null;
  next_label: number;
  can_undo: boolean;
  can_redo: boolean;
  can_propagate: boolean;
  /** The automatic generator's proposals not yet accepted or dropped (shown as outlines). */
  proposals: WireProposal[];
  auto_segment: boolean;
  status: CanvasStatus;
  status_text: string;
  /** Last rejected message or failure, "" when none; `error_seq` grows with each one. */
  error: string;
  error_seq: number;
  /** The last action the kernel applied (or rejected), per client, for busy indicators. */
  ack: ActionRef | null;
};

/** Keys a front end may write; everything else belongs to the kernel. */
export const FRONTEND_WRITABLE: readonly (keyof SegmentCanvasState)[] = ["slice"];

export type Action =
  | { readonly type: "add_point"; readonly x: number; readonly y: number; readonly z: number; readonly positive: boolean }
  | { readonly type: "set_box"; readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number; readonly z: number }
  | { readonly type: "remove_prompt"; readonly id: number }
  | { readonly type: "remove_last" }
  | { readonly type: "clear" }
  | { readonly type: "commit" }
  | { readonly type: "remove_object"; readonly label: number }
  | { readonly type: "undo" }
  | { readonly type: "redo" }
  | { readonly type: "segment" }
  | { readonly type: "propagate" }
  /** Runs the automatic generator on slice z; its masks become proposals. */
  | { readonly type: "segment_everything"; readonly z: number }
  /** A proposal becomes the next committed object (one undo step). */
  | { readonly type: "accept_proposal"; readonly id: number }
  | { readonly type: "drop_proposal"; readonly id: number }
  /** Stops a running generator and drops the remaining proposals. */
  | { readonly type: "clear_proposals" }
  /**
   * A brush (erase false) or eraser stroke on slice z: `mask` is the stroke's footprint, a
   * mask-codec RLE slice in base64, sent once when the stroke ends. `target` 0 is the current
   * object, otherwise a committed label.
   */
  | { readonly type: "stroke"; readonly z: number; readonly target: number; readonly erase: boolean; readonly mask: string }
  | { readonly type: "rename_object"; readonly label: number; readonly name: string }
  | { readonly type: "relabel_object"; readonly label: number; readonly to: number }
  /** Replace the current mask of a single click by SAM's candidate `token` (1..3): one undo step. */
  | { readonly type: "pick_candidate"; readonly token: number }
  /** Propagate again from slice z (after fixing it) away from the seeds; the slices beyond z are redone. */
  | { readonly type: "repropagate"; readonly z: number };

export type ActionType = Action["type"];

/** Front end -> kernel, as the `content` of a custom message. */
export interface ActionMessage {
  readonly kind: "action";
  readonly client: string;
  readonly seq: number;
  readonly action: Action;
}

/** A message the kernel refuses; its text is shown in the widget. */
export class ActionError extends Error {
  override name = "ActionError";
}

export interface Bounds {
  readonly width: number;
  readonly height: number;
  readonly depth: number;
}

const FIELDS: Readonly<Record<ActionType, readonly string[]>> = {
  add_point: ["x", "y", "z", "positive"],
  set_box: ["x0", "y0", "x1", "y1", "z"],
  remove_prompt: ["id"],
  remove_last: [],
  clear: [],
  commit: [],
  remove_object: ["label"],
  undo: [],
  redo: [],
  segment: [],
  propagate: [],
  segment_everything: ["z"],
  accept_proposal: ["id"],
  drop_proposal: ["id"],
  clear_proposals: [],
  stroke: ["z", "target", "erase", "mask"],
  rename_object: ["label", "name"],
  relabel_object: ["label", "to"],
  pick_candidate: ["token"],
  repropagate: ["z"],
};

/** Longest object name accepted. */
export const MAX_NAME = 120;

export const ACTION_TYPES = Object.keys(FIELDS) as ActionType[];

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function finite(obj: Record<string, unknown>, key: string, what: string): number {
  const v = obj[key];
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ActionError(`${what}: '${key}' must be a finite number, got ${describe(v)}`);
  return v;
}

function integer(obj: Record<string, unknown>, key: string, what: string, min: number, max: number): number {
  const v = obj[key];
  if (typeof v !== "number" || !Number.isInteger(v)) throw new ActionError(`${what}: '${key}' must be an integer, got ${describe(v)}`);
  if (v < min || v > max) throw new ActionError(`${what}: '${key}' = ${v} is outside ${min}..${max}`);
  return v;
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (v === undefined) return "nothing";
  if (typeof v === "number") return String(v);
  return Array.isArray(v) ? "a list" : v === null ? "null" : typeof v;
}

function coordinate(obj: Record<string, unknown>, key: string, what: string, size: number, axis: string): number {
  const v = finite(obj, key, what);
  if (v < 0 || v > size - 1) {
    throw new ActionError(`${what}: ${key}=${v} is outside the image (${axis} runs 0..${size - 1}; x is the column, y the row)`);
  }
  return v;
}

/**
 * Checks an action from a front end against the image size. Unknown types, missing or extra
 * fields, non-numbers and coordinates off the image are errors: a prompt is never clipped.
 */
export function parseAction(raw: unknown, bounds: Bounds): Action {
  if (!isRecord(raw)) throw new ActionError(`an action must be an object, got ${describe(raw)}`);
  const type = raw.type;
  if (typeof type !== "string" || !(ACTION_TYPES as string[]).includes(type)) {
    throw new ActionError(`unknown action type ${describe(type)}; expected one of ${ACTION_TYPES.join(", ")}`);
  }
  const t = type as ActionType;
  const allowed = new Set(["type", ...FIELDS[t]]);
  const extra = Object.keys(raw).filter((k) => !allowed.has(k));
  if (extra.length > 0) throw new ActionError(`${t}: unexpected field(s) ${extra.join(", ")} (expected ${FIELDS[t].join(", ") || "none"})`);
  const what = t;
  const z = () => integer(raw, "z", what, 0, bounds.depth - 1);
  switch (t) {
    case "add_point": {
      const x = coordinate(raw, "x", what, bounds.width, "x");
      const y = coordinate(raw, "y", what, bounds.height, "y");
      if (typeof raw.positive !== "boolean") throw new ActionError(`${what}: 'positive' must be true or false, got ${describe(raw.positive)}`);
      return { type: t, x, y, z: z(), positive: raw.positive };
    }
    case "set_box": {
      const x0 = coordinate(raw, "x0", what, bounds.width, "x");
      const y0 = coordinate(raw, "y0", what, bounds.height, "y");
      const x1 = coordinate(raw, "x1", what, bounds.width, "x");
      const y1 = coordinate(raw, "y1", what, bounds.height, "y");
      if (x1 < x0 || y1 < y0) throw new ActionError(`${what}: the corners must satisfy x0 <= x1 and y0 <= y1, got (${x0}, ${y0}) and (${x1}, ${y1})`);
      return { type: t, x0, y0, x1, y1, z: z() };
    }
    case "remove_prompt":
    case "accept_proposal":
    case "drop_proposal":
      return { type: t, id: integer(raw, "id", what, 0, Number.MAX_SAFE_INTEGER) };
    case "segment_everything":
      return { type: t, z: z() };
    case "remove_object":
      return { type: t, label: integer(raw, "label", what, 1, 2 ** 32 - 1) };
    case "stroke": {
      const target = integer(raw, "target", what, 0, 2 ** 32 - 1);
      if (typeof raw.erase !== "boolean") throw new ActionError(`${what}: 'erase' must be true or false, got ${describe(raw.erase)}`);
      if (typeof raw.mask !== "string") throw new ActionError(`${what}: 'mask' must be a base64 string, got ${describe(raw.mask)}`);
      try {
        const rle = fromBase64(raw.mask);
        decodeRle(rle, bounds.width * bounds.height);
      } catch (err) {
        throw new ActionError(`${what}: 'mask' is not an RLE slice of ${bounds.width}x${bounds.height} pixels: ${(err as Error).message}`);
      }
      return { type: t, z: z(), target, erase: raw.erase, mask: raw.mask };
    }
    case "rename_object": {
      const label = integer(raw, "label", what, 1, 2 ** 32 - 1);
      if (typeof raw.name !== "string" || raw.name.trim().length === 0 || raw.name.length > MAX_NAME) {
        throw new ActionError(`${what}: 'name' must be a non-empty string of at most ${MAX_NAME} characters, got ${describe(raw.name)}`);
      }
      return { type: t, label, name: raw.name.trim() };
    }
    case "relabel_object":
      return { type: t, label: integer(raw, "label", what, 1, 2 ** 32 - 1), to: integer(raw, "to", what, 1, 0xffff) };
    case "pick_candidate":
      return { type: t, token: integer(raw, "token", what, 1, 3) };
    case "repropagate":
      return { type: t, z: z() };
    default:
      return { type: t } as Action;
  }
}

/** Checks the envelope of a custom message; the action inside is checked by parseAction. */
export function parseActionMessage(raw: unknown, bounds: Bounds): ActionMessage {
  if (!isRecord(raw)) throw new ActionError(`a widget message must be an object, got ${describe(raw)}`);
  if (raw.kind !== "action") throw new ActionError(`unknown message kind ${describe(raw.kind)}; expected "action"`);
  const client = raw.client;
  if (typeof client !== "string" || client.length === 0 || client.length > 64) {
    throw new ActionError(`'client' must be a string of 1..64 characters, got ${describe(client)}`);
  }
  const seq = raw.seq;
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) throw new ActionError(`'seq' must be a non-negative integer, got ${describe(seq)}`);
  return { kind: "action", client, seq, action: parseAction(raw.action, bounds) };
}

/** A slice index a front end wrote. */
export function parseSlice(raw: unknown, depth: number): number {
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 0 || raw >= depth) {
    throw new ActionError(`slice must be an integer in 0..${depth - 1}, got ${describe(raw)}`);
  }
  return raw;
}

/** Window/level to a 0..255 mapping: value -> (value - low) * scale, clipped. Shared so both sides agree. */
export function windowRange(w: WindowLevel): { low: number; scale: number } {
  const width = Math.max(w.width, 1e-12);
  return { low: w.level - width / 2, scale: 255 / width };
}

export function labelColour(palette: readonly (readonly [number, number, number])[], label: number): readonly [number, number, number] {
  if (palette.length === 0) return [255, 255, 255];
  return palette[(label - 1) % palette.length]!;
}
