/**
 * Sessions as data: what `w.exportSession()` returns. Every action the canvas accepted (prompts,
 * strokes as the run-length slices they travel as, candidate picks, commits, undo/redo, object
 * edits, propagations) and every label map loaded, in order, each tagged with the object it
 * concerns; the model and the image it was made on; and the committed labels it ended with, so
 * a replay on another model (replay.ts) can be scored against this run.
 *
 * The record listens where the dispatcher logs accepted actions (dispatch.ts's `applied` hook),
 * so an action from a front end and the same action from code are recorded alike, and a
 * rejected one never is.
 */
import { createHash } from "node:crypto";
import type { MultimaskMode } from "../../../kernel/sam/select.js";
import { toBase64 } from "../common/mask-codec.js";
import type { CommittedObject, Snapshot } from "../common/reducer.js";
import type { Action } from "../common/state.js";
import type { CanvasSource } from "./source.js";
import type { CanvasModel } from "./types.js";

export const SESSION_FORMAT = "medicosam-canvas-session";
/** Bumped when a field changes meaning; `replaySession` refuses versions it does not know. */
export const SESSION_VERSION = 1;

/** The model a session was recorded with: manifest name and the sha256 of its ONNX files. */
export interface SessionModel {
  readonly name: string;
  /** From model.json; null when the model declares none (or is not a `SamModel`). */
  readonly checksum: { readonly encoder: string | null; readonly decoder: string | null };
}

/** Which pixels the prompts were placed on: the displayed geometry and a hash of the pixels as displayed. */
export interface SessionImage {
  readonly kind: "image" | "volume";
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  readonly channels: number;
  readonly dtype: string;
  /** For volumes: the view the slices were cut along ("axial", ...); null for a 2D image. */
  readonly view: string | null;
  /** sha256 of the display pixels (slice-major, little-endian), the bytes the canvas shows. */
  readonly sha256: string;
}

/** A committed object of a loaded label map: z -> mask-codec RLE of its 0/1 slice, base64. */
export interface SessionObjectMask {
  readonly label: number;
  readonly name: string;
  readonly slices: Readonly<Record<string, string>>;
}

export type SessionEvent =
  /** An accepted action; `object` is the label it concerns (the label the current object will get, or the committed object's), 0 for undo/redo. */
  | { readonly kind: "action"; readonly action: Action; readonly object: number }
  /** A label map loaded: `start` for the canvas's starting labels (the `labels` option or a reopened autosave). */
  | { readonly kind: "load"; readonly start: boolean; readonly replace: boolean; readonly objects: readonly SessionObjectMask[] };

/** An object the session ended with, and the indices of the events that made or edited it. */
export interface SessionObjectRecord {
  readonly label: number;
  readonly name: string;
  readonly voxels: number;
  readonly events: readonly number[];
}

export interface CanvasSession {
  readonly format: typeof SESSION_FORMAT;
  readonly version: number;
  readonly created: string;
  readonly model: SessionModel;
  readonly image: SessionImage;
  /** The canvas options a replay must share to take the same decisions. */
  readonly settings: { readonly autoSegment: boolean; readonly multimask: MultimaskMode | null };
  readonly events: readonly SessionEvent[];
  readonly objects: readonly SessionObjectRecord[];
  /** The committed labels at export: mask-codec stack of label ids (display slices), base64. */
  readonly labels: string;
}

export function sessionModel(model: CanvasModel): SessionModel {
  const manifest = (model as { manifest?: { encoder?: { sha256?: string }; decoder?: { sha256?: string } } }).manifest;
  return {
    name: model.name ?? "unnamed model",
    checksum: { encoder: manifest?.encoder?.sha256 ?? null, decoder: manifest?.decoder?.sha256 ?? null },
  };
}

export function sessionImage(source: CanvasSource, view: string | undefined): SessionImage {
  const sha256 = createHash("sha256").update(source.pixelBytes()).digest("hex");
  const { kind, width, height, depth, channels, dtype } = source;
  return { kind, width, height, depth, channels, dtype, view: kind === "volume" ? (view ?? "axial") : null, sha256 };
}

export function describeImage(image: SessionImage): string {
  const size = image.kind === "volume" ? `${image.width}x${image.height}x${image.depth} ${image.view} view` : `${image.width}x${image.height}`;
  return `${image.kind} ${size}, ${image.channels} channel(s) ${image.dtype}, pixels sha256 ${image.sha256.slice(0, 12)}`;
}

/** A committed object's masks as they go into a session. */
export function objectMask(object: CommittedObject): SessionObjectMask {
  const slices: Record<string, string> = {};
  for (const [z, rle] of object.slices) slices[String(z)] = toBase64(rle);
  return { label: object.label, name: object.name, slices };
}

/** The label a recorded action concerns, read from the snapshot just after it. */
function objectOf(action: Action, after: Snapshot): number {
  switch (action.type) {
    case "commit":
      return after.objects[after.objects.length - 1]?.label ?? 0;
    case "stroke":
      return action.target !== 0 ? action.target : after.nextLabel;
    case "remove_object":
    case "rename_object":
    case "relabel_object":
      return action.label;
    case "undo":
    case "redo":
      return 0;
    default:
      return after.nextLabel;
  }
}

/** The events of a canvas, in the order it applied them. */
export class SessionRecorder {
  private readonly events: SessionEvent[] = [];

  /** An action the dispatcher applied; `after` is the snapshot it left. */
  action(action: Action, after: Snapshot): void {
    this.events.push({ kind: "action", action, object: objectOf(action, after) });
  }

  /** Objects loaded from a label map (the starting labels when `start`). */
  load(objects: readonly CommittedObject[], options: { start: boolean; replace: boolean }): void {
    this.events.push({ kind: "load", start: options.start, replace: options.replace, objects: objects.map(objectMask) });
  }

  export(args: { model: CanvasModel; source: CanvasSource; view: string | undefined; settings: CanvasSession["settings"]; present: Snapshot; labels: Uint8Array }): CanvasSession {
    const events = this.events.slice();
    return {
      format: SESSION_FORMAT,
      version: SESSION_VERSION,
      created: new Date().toISOString(),
      model: sessionModel(args.model),
      image: sessionImage(args.source, args.view),
      settings: args.settings,
      events,
      objects: args.present.objects.map((o) => ({ label: o.label, name: o.name, voxels: o.voxels, events: eventsPerObject(events).get(o.label) ?? [] })),
      labels: toBase64(args.labels),
    };
  }
}

/** Event indices per label, following relabels (an object keeps its history under its new id). */
function eventsPerObject(events: readonly SessionEvent[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  const add = (label: number, i: number) => {
    if (label === 0) return;
    const list = out.get(label) ?? [];
    list.push(i);
    out.set(label, list);
  };
  events.forEach((e, i) => {
    if (e.kind === "load") {
      for (const o of e.objects) add(o.label, i);
      return;
    }
    add(e.object, i);
    if (e.action.type === "relabel_object") {
      out.set(e.action.to, [...(out.get(e.action.to) ?? []), ...(out.get(e.action.label) ?? [])]);
      out.delete(e.action.label);
    }
  });
  return out;
}

