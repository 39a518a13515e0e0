/**
 * The editing side of the notebook API, kept out of canvas.ts: label maps in (the `labels`
 * option, a reopened autosave, `w.loadLabels`) and brush strokes from code (`w.paint`,
 * `w.erase`) turned into the same actions a front end sends.
 */
import { existsSync } from "node:fs";
import { encodeRle, toBase64 } from "../common/mask-codec.js";
import type { CommittedObject } from "../common/reducer.js";
import type { Action } from "../common/state.js";
import { objectsFromLabels, readLabelsInput, type LabelsInput } from "./load-labels.js";
import type { CanvasSource } from "./source.js";
import type { SegmentCanvasOptions } from "./types.js";

/** A label map read into committed objects, one per label (names from its sidecar). */
export async function readObjects(input: LabelsInput, source: CanvasSource): Promise<CommittedObject[]> {
  const { data, names } = await readLabelsInput(input, source);
  return objectsFromLabels(source, data, names);
}

/**
 * What a canvas opens with: the `labels` option, else an existing autosave file (a reopened
 * session, unless `resume: false`); undefined when it starts empty.
 */
export function startingLabels(options: Pick<SegmentCanvasOptions, "labels" | "autosave" | "resume">): { input: LabelsInput; fromAutosave: boolean } | undefined {
  const { labels, autosave, resume } = options;
  if (labels !== undefined) return { input: labels, fromAutosave: false };
  if (autosave !== undefined && resume !== false && existsSync(autosave)) return { input: autosave, fromAutosave: true };
  return undefined;
}

/** Why the starting labels could not be opened, and what that means for the autosave file. */
export function openFailure(input: LabelsInput, fromAutosave: boolean, err: unknown): Error {
  const what = typeof input === "string" ? input : "the labels";
  const text = err instanceof Error ? err.message : String(err);
  return new Error(`could not open ${what}: ${text}${fromAutosave ? "; autosave is off, so that file stays as it is" : ""}`);
}

export interface StrokeOptions {
  /** Slice (default: the shown one). */
  z?: number;
  /** 0 or absent: the current object; otherwise a committed label. */
  label?: number;
  erase?: boolean;
}

/** A brush stroke from code as the action a front end sends: the 0/1 mask of one slice, run-length encoded. */
export function strokeAction(mask: ArrayLike<number>, options: StrokeOptions, shape: { width: number; height: number }, shownSlice: number): Action {
  const n = shape.width * shape.height;
  if (mask.length !== n) throw new Error(`the stroke has ${mask.length} pixels; a slice has ${n} (${shape.width}x${shape.height})`);
  const footprint = Uint8Array.from(mask, (v) => (v ? 1 : 0));
  return { type: "stroke", z: options.z ?? shownSlice, target: options.label ?? 0, erase: options.erase ?? false, mask: toBase64(encodeRle(footprint)) };
}
