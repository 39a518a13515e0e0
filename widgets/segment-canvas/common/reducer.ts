/**
 * The widget's document and its undo history, as a pure reducer.
 *
 * A snapshot holds everything the user can undo: the prompts of the object being segmented,
 * its mask per slice, and the committed objects. Committed labels are not stored as a label
 * map but as the list of objects (each with its own mask), painted in commit order when
 * needed: so undoing a commit restores exactly what the object covered before, and no
 * sequence of actions can corrupt objects that are not involved.
 *
 * Masks are run-length encoded (mask-codec) and never mutated, so snapshots share them and a
 * long history costs little memory.
 *
 * Segmentation results are not undo steps: they are attached to the snapshot whose prompts
 * they answer (its `key`), so undo shows the earlier mask at once, without the decoder.
 */
import { fromBase64, rleArea, rleCombine, rleIsEmpty } from "./mask-codec.js";
import { ActionError, type Action, type PropagationReport, type WireBox, type WirePoint, type WirePrompts } from "./state.js";

export interface SliceMask {
  /** mask-codec RLE of a 0/1 slice. */
  readonly rle: Uint8Array;
  readonly area: number;
  /** promptKey() of the prompts it answers, "propagated", or "painted" (a brush on a slice without prompts). */
  readonly source: string;
}

export interface CommittedObject {
  readonly label: number;
  /** "object <label>" until the user renames it. */
  readonly name: string;
  /** z -> RLE of the object's 0/1 mask on that slice (non-empty slices only). */
  readonly slices: ReadonlyMap<number, Uint8Array>;
  readonly voxels: number;
  /** The prompts it was made from (kept for the notebook's prompt history). */
  readonly prompts: WirePrompts;
}

export interface Snapshot {
  readonly prompts: WirePrompts;
  readonly current: ReadonlyMap<number, SliceMask>;
  readonly objects: readonly CommittedObject[];
  readonly nextLabel: number;
  readonly nextPromptId: number;
  /** What made this snapshot: the action type ("start" for the first). */
  readonly cause: string;
  /** The current object's last propagation (the strip); dropped by commit and clear. */
  readonly propagation?: PropagationReport | undefined;
}

export interface History {
  readonly snapshots: readonly Snapshot[];
  readonly index: number;
}

/** Attaches a decoder result for slice z to the present snapshot (ignored if its prompts changed meanwhile). */
export interface ResultAction {
  readonly type: "result";
  readonly z: number;
  readonly key: string;
  readonly rle: Uint8Array;
}

/** Masks propagated from the current object to other slices: one undo step. */
export interface PropagatedAction {
  readonly type: "propagated";
  readonly slices: ReadonlyMap<number, Uint8Array>;
  /** What it did per slice, kept with the snapshot so undo and redo bring the strip back with the masks. */
  readonly report?: PropagationReport;
  /**
   * A re-propagation from slice `from` toward `step` (+1 up, -1 down): the propagated masks
   * beyond `from` are dropped first (the old run's answers past a slice the user fixed).
   */
  readonly beyond?: { readonly from: number; readonly step: 1 | -1 };
}

/**
 * Committed objects from a label map (`segmentCanvas(..., {labels})`, `w.loadLabels`, a
 * reopened autosave): one undo step. `replace` drops the objects there were; otherwise a loaded
 * label that is already taken is refused.
 */
export interface LoadAction {
  readonly type: "load";
  readonly objects: readonly CommittedObject[];
  readonly replace: boolean;
}

/** A candidate mask the user picked for slice z's single click (kernel/candidates.ts): one undo step. */
export interface PickAction {
  readonly type: "pick";
  readonly z: number;
  /** promptKey() of the click it answers. */
  readonly key: string;
  readonly rle: Uint8Array;
}

/** A mask made elsewhere (an accepted proposal of the automatic generator) as the next committed object: one undo step. */
export interface AddObjectAction {
  readonly type: "add_object";
  readonly slices: ReadonlyMap<number, Uint8Array>;
}

/** Actions the kernel handles without the reducer (it runs models for them). */
type KernelOnly =
  | { type: "segment" }
  | { type: "propagate" }
  | { type: "pick_candidate" }
  | { type: "repropagate" }
  | { type: "segment_everything" }
  | { type: "accept_proposal" }
  | { type: "drop_proposal" }
  | { type: "clear_proposals" };

export type ReducerAction = Exclude<Action, KernelOnly> | ResultAction | PropagatedAction | LoadAction | PickAction | AddObjectAction;

export function defaultName(label: number): string {
  return `object ${label}`;
}

/** A committed object from its slices (empty slices dropped, voxels counted). */
export function makeObject(label: number, slices: ReadonlyMap<number, Uint8Array>, options: { name?: string; prompts?: WirePrompts } = {}): CommittedObject {
  const kept = new Map<number, Uint8Array>();
  let voxels = 0;
  for (const [z, rle] of [...slices].sort((a, b) => a[0] - b[0])) {
    const area = rleArea(rle);
    if (area === 0) continue;
    kept.set(z, rle);
    voxels += area;
  }
  return { label, name: options.name ?? defaultName(label), slices: kept, voxels, prompts: options.prompts ?? EMPTY_PROMPTS };
}

/** Label ids are stored in 16 bits (kernel label slices and saved maps of up to 65535 objects). */
export const MAX_LABEL = 0xffff;
/** Oldest snapshots beyond this are dropped; committed objects live in every later snapshot, so nothing committed is lost. */
export const MAX_HISTORY = 1000;

const EMPTY_PROMPTS: WirePrompts = { points: [], boxes: [] };

export function initialHistory(options: { objects?: readonly CommittedObject[]; nextLabel?: number } = {}): History {
  const objects = options.objects ?? [];
  const nextLabel = options.nextLabel ?? objects.reduce((m, o) => Math.max(m, o.label + 1), 1);
  return {
    snapshots: [{ prompts: EMPTY_PROMPTS, current: new Map(), objects, nextLabel, nextPromptId: 1, cause: "start" }],
    index: 0,
  };
}

export function present(h: History): Snapshot {
  return h.snapshots[h.index]!;
}

export function canUndo(h: History): boolean {
  return h.index > 0;
}

export function canRedo(h: History): boolean {
  return h.index < h.snapshots.length - 1;
}

/** The prompts on slice z, in the decoder's form. */
export function promptsOnSlice(prompts: WirePrompts, z: number): { points: WirePoint[]; box: WireBox | undefined } {
  return { points: prompts.points.filter((p) => p.z === z), box: prompts.boxes.find((b) => b.z === z) };
}

/** Identifies the prompts of slice z (ids excluded: the same clicks give the same mask). */
export function promptKey(prompts: WirePrompts, z: number): string {
  const { points, box } = promptsOnSlice(prompts, z);
  return JSON.stringify({
    p: points.map((p) => [p.x, p.y, p.positive ? 1 : 0]),
    b: box ? [box.x0, box.y0, box.x1, box.y1] : null,
  });
}

export function slicesWithPrompts(prompts: WirePrompts): number[] {
  return [...new Set([...prompts.points.map((p) => p.z), ...prompts.boxes.map((b) => b.z)])].sort((a, b) => a - b);
}

/** Slices whose mask does not answer their present prompts: what the kernel must segment. */
export function staleSlices(s: Snapshot): number[] {
  return slicesWithPrompts(s.prompts).filter((z) => s.current.get(z)?.source !== promptKey(s.prompts, z));
}

export function sliceMask(rle: Uint8Array, source: string): SliceMask {
  return { rle, area: rleArea(rle), source };
}

function push(h: History, next: Snapshot): History {
  const kept = h.snapshots.slice(0, h.index + 1);
  kept.push(next);
  const drop = Math.max(0, kept.length - MAX_HISTORY);
  return { snapshots: kept.slice(drop), index: kept.length - 1 - drop };
}

function replacePresent(h: History, next: Snapshot): History {
  const snapshots = h.snapshots.slice();
  snapshots[h.index] = next;
  return { snapshots, index: h.index };
}

/** Removes slice masks whose slice lost its last prompt (a propagated mask stays: it has no prompts). */
function dropOrphans(current: ReadonlyMap<number, SliceMask>, prompts: WirePrompts, changedZ: number): Map<number, SliceMask> {
  const out = new Map(current);
  const mask = out.get(changedZ);
  if (mask && mask.source !== "propagated" && mask.source !== "painted" && slicesWithPrompts(prompts).indexOf(changedZ) < 0) out.delete(changedZ);
  return out;
}

function withPrompts(s: Snapshot, prompts: WirePrompts, changedZ: number, cause: string, nextPromptId = s.nextPromptId): Snapshot {
  return { ...s, prompts, current: dropOrphans(s.current, prompts, changedZ), nextPromptId, cause };
}

/** Applies one action. Invalid requests (unknown prompt id or label, nothing to commit) throw ActionError. */
export function reduce(h: History, action: ReducerAction): History {
  const s = present(h);
  switch (action.type) {
    case "add_point": {
      const point: WirePoint = { id: s.nextPromptId, x: action.x, y: action.y, z: action.z, positive: action.positive };
      return push(h, withPrompts(s, { ...s.prompts, points: [...s.prompts.points, point] }, action.z, action.type, s.nextPromptId + 1));
    }
    case "set_box": {
      const box: WireBox = { id: s.nextPromptId, x0: action.x0, y0: action.y0, x1: action.x1, y1: action.y1, z: action.z };
      const boxes = [...s.prompts.boxes.filter((b) => b.z !== action.z), box];
      return push(h, withPrompts(s, { ...s.prompts, boxes }, action.z, action.type, s.nextPromptId + 1));
    }
    case "remove_prompt": {
      const point = s.prompts.points.find((p) => p.id === action.id);
      const box = s.prompts.boxes.find((b) => b.id === action.id);
      const target = point ?? box;
      if (!target) throw new ActionError(`there is no prompt with id ${action.id} (it may have been removed already)`);
      const prompts = { points: s.prompts.points.filter((p) => p.id !== action.id), boxes: s.prompts.boxes.filter((b) => b.id !== action.id) };
      return push(h, withPrompts(s, prompts, target.z, action.type));
    }
    case "remove_last": {
      const all = [...s.prompts.points, ...s.prompts.boxes];
      if (all.length === 0) throw new ActionError("there is no prompt to remove");
      const last = all.reduce((a, b) => (b.id > a.id ? b : a));
      return reduce(h, { type: "remove_prompt", id: last.id });
    }
    case "clear": {
      if (s.prompts.points.length === 0 && s.prompts.boxes.length === 0 && s.current.size === 0) return h;
      return push(h, { ...s, prompts: EMPTY_PROMPTS, current: new Map(), cause: action.type, propagation: undefined });
    }
    case "commit": {
      const stale = staleSlices(s);
      if (stale.length > 0) throw new ActionError(`the mask of slice ${stale.join(", ")} is still being computed; commit when it shows`);
      const slices = new Map<number, Uint8Array>();
      let voxels = 0;
      for (const [z, m] of [...s.current.entries()].sort((a, b) => a[0] - b[0])) {
        if (m.area > 0) {
          slices.set(z, m.rle);
          voxels += m.area;
        }
      }
      if (voxels === 0) throw new ActionError("nothing to commit: click the object (or draw a box) until a mask shows, then commit");
      if (s.nextLabel > MAX_LABEL) throw new ActionError(`cannot commit more than ${MAX_LABEL} objects in one widget`);
      const object: CommittedObject = { label: s.nextLabel, name: defaultName(s.nextLabel), slices, voxels, prompts: s.prompts };
      return push(h, {
        ...s,
        prompts: EMPTY_PROMPTS,
        current: new Map(),
        objects: [...s.objects, object],
        nextLabel: s.nextLabel + 1,
        cause: action.type,
        propagation: undefined,
      });
    }
    case "add_object": {
      const object = makeObject(s.nextLabel, action.slices);
      if (object.voxels === 0) throw new ActionError("nothing to add: the mask is empty");
      if (s.nextLabel > MAX_LABEL) throw new ActionError(`cannot commit more than ${MAX_LABEL} objects in one widget`);
      return push(h, { ...s, objects: [...s.objects, object], nextLabel: s.nextLabel + 1, cause: action.type });
    }
    case "remove_object": {
      if (!s.objects.some((o) => o.label === action.label)) {
        const known = s.objects.map((o) => o.label);
        throw new ActionError(`there is no object with label ${action.label} (committed labels: ${known.length ? known.join(", ") : "none"})`);
      }
      return push(h, { ...s, objects: s.objects.filter((o) => o.label !== action.label), cause: action.type });
    }
    case "stroke":
      return stroke(h, s, action);
    case "rename_object": {
      const object = findObject(s, action.label);
      if (object.name === action.name) return h;
      return push(h, { ...s, objects: s.objects.map((o) => (o === object ? { ...o, name: action.name } : o)), cause: action.type });
    }
    case "relabel_object": {
      const object = findObject(s, action.label);
      if (action.to === action.label) return h;
      if (s.objects.some((o) => o.label === action.to)) throw new ActionError(`label ${action.to} is taken by '${s.objects.find((o) => o.label === action.to)!.name}'; remove or relabel that one first`);
      const renamed = object.name === defaultName(object.label) ? defaultName(action.to) : object.name;
      return push(h, {
        ...s,
        objects: s.objects.map((o) => (o === object ? { ...o, label: action.to, name: renamed } : o)),
        nextLabel: Math.max(s.nextLabel, action.to + 1),
        cause: action.type,
      });
    }
    case "load": {
      const kept = action.replace ? [] : s.objects;
      const taken = new Set(kept.map((o) => o.label));
      for (const o of action.objects) {
        if (o.label < 1 || o.label > MAX_LABEL) throw new ActionError(`label ${o.label} is outside 1..${MAX_LABEL}`);
        if (taken.has(o.label)) throw new ActionError(`label ${o.label} is already an object of this canvas; load with replace, or relabel it first`);
        taken.add(o.label);
      }
      const objects = [...kept, ...action.objects];
      const nextLabel = objects.reduce((m, o) => Math.max(m, o.label + 1), action.replace ? 1 : s.nextLabel);
      return push(h, { ...s, objects, nextLabel, cause: action.type });
    }
    case "undo":
      return canUndo(h) ? { snapshots: h.snapshots, index: h.index - 1 } : h;
    case "redo":
      return canRedo(h) ? { snapshots: h.snapshots, index: h.index + 1 } : h;
    case "result": {
      if (promptKey(s.prompts, action.z) !== action.key) return h;
      if (slicesWithPrompts(s.prompts).indexOf(action.z) < 0) return h;
      // Already answered (a brush stroke made it the answer to these prompts): a late result must not undo the paint.
      if (s.current.get(action.z)?.source === action.key) return h;
      const current = new Map(s.current);
      current.set(action.z, sliceMask(action.rle, action.key));
      return replacePresent(h, { ...s, current });
    }
    case "pick": {
      if (promptKey(s.prompts, action.z) !== action.key) throw new ActionError("the prompts changed since these candidates were offered; click again");
      const before = s.current.get(action.z);
      if (before && before.source === action.key && sameRle(before.rle, action.rle)) return h;
      const current = new Map(s.current);
      current.set(action.z, sliceMask(action.rle, action.key));
      return push(h, { ...s, current, cause: action.type });
    }
    case "propagated": {
      const current = new Map(s.current);
      const beyond = action.beyond;
      if (beyond) for (const [z, m] of s.current) if (m.source === "propagated" && (z - beyond.from) * beyond.step > 0) current.delete(z);
      for (const [z, rle] of action.slices) {
        // Slices the user prompted keep their own result: propagation fills the others.
        if (slicesWithPrompts(s.prompts).indexOf(z) >= 0) continue;
        current.set(z, sliceMask(rle, "propagated"));
      }
      return push(h, { ...s, current, cause: action.type, propagation: action.report });
    }
  }
}

function findObject(s: Snapshot, label: number): CommittedObject {
  const object = s.objects.find((o) => o.label === label);
  if (!object) {
    const known = s.objects.map((o) => o.label);
    throw new ActionError(`there is no object with label ${label} (committed labels: ${known.length ? known.join(", ") : "none"})`);
  }
  return object;
}

/** `slices` with slice z replaced by `rle` (dropped when empty). */
function withSlice(slices: ReadonlyMap<number, Uint8Array>, z: number, rle: Uint8Array): Map<number, Uint8Array> {
  const out = new Map(slices);
  if (rleIsEmpty(rle) || rleArea(rle) === 0) out.delete(z);
  else out.set(z, rle);
  return out;
}

/**
 * A brush or eraser stroke: one undo step. On the current object it changes the mask of slice
 * z (which then answers the slice's prompts as painted, so the decoder does not redo it). On a
 * committed object, paint also takes the stroke's pixels from every other object (a label map
 * has one label per pixel, as napari's label brush), and an object erased to nothing is removed.
 */
function stroke(h: History, s: Snapshot, action: Extract<ReducerAction, { type: "stroke" }>): History {
  const footprint = fromBase64(action.mask);
  const op = action.erase ? "subtract" : "union";
  if (action.target === 0) {
    if (staleSlices(s).includes(action.z)) throw new ActionError(`the mask of slice ${action.z} is still being computed; paint when it shows`);
    const before = s.current.get(action.z);
    const rle = rleCombine(before?.rle ?? new Uint8Array(0), footprint, op);
    const prompted = slicesWithPrompts(s.prompts).includes(action.z);
    const source = prompted ? promptKey(s.prompts, action.z) : "painted";
    const empty = rleArea(rle) === 0;
    if (before ? before.source === source && sameRle(rle, before.rle) : empty) return h;
    const current = new Map(s.current);
    if (empty && !prompted) current.delete(action.z);
    else current.set(action.z, sliceMask(rle, source));
    return push(h, { ...s, current, cause: action.type });
  }
  const target = findObject(s, action.target);
  let changed = false;
  const objects: CommittedObject[] = [];
  for (const o of s.objects) {
    const old = o.slices.get(action.z);
    let next: Uint8Array | undefined;
    if (o === target) next = rleCombine(old ?? new Uint8Array(0), footprint, op);
    else if (!action.erase && old) next = rleCombine(old, footprint, "subtract");
    if (next === undefined || (old !== undefined && sameRle(next, old)) || (old === undefined && rleArea(next) === 0)) {
      objects.push(o);
      continue;
    }
    changed = true;
    const updated = makeObject(o.label, withSlice(o.slices, action.z, next), { name: o.name, prompts: o.prompts });
    if (updated.voxels > 0) objects.push(updated);
  }
  if (!changed) return h;
  return push(h, { ...s, objects, cause: action.type });
}

function sameRle(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
