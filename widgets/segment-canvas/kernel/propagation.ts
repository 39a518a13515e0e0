/**
 * Shift+S / `w.propagate()`: the current object carried from the slices the user segmented to
 * the rest of the volume, by a Propagator (micro_sam's volume propagation by default), with a
 * report of what happened on each slice (the strip under the canvas). F / `w.repropagate(z)`:
 * after the user fixed slice z, propagate again from it, away from the seeds.
 */
import { propagate as propagateThroughVolume, type DirectionResult, type PropagateOptions, type SliceOutcome } from "../../../kernel/interactive/propagate.js";
import type { Embedding } from "../../../kernel/sam/embedding.js";
import { decodeRle, encodeRle } from "../common/mask-codec.js";
import { slicesWithPrompts, type PropagatedAction, type Snapshot } from "../common/reducer.js";
import { repropagateStep } from "../common/propagation-report.js";
import { ActionError, type PropagationReport, type WireDirection, type WireSliceOutcome } from "../common/state.js";
import type { CanvasModel, Propagator, PropagatorResult } from "./types.js";

/**
 * micro_sam's `segment_mask_in_volume` (kernel/interactive/propagate.ts) with its napari
 * defaults: from the seeds outward, each slice prompted with the previous slice's mask, until
 * the IoU with the previous slice drops below 0.5, the mask is empty, or the volume ends.
 */
export function volumePropagator(options: Omit<PropagateOptions, "onSlice" | "stopBelow" | "stopAbove"> = {}): Propagator {
  return async ({ model, embed, depth, width, height, seeds, progress, only }) => {
    let done = 0;
    const result = await propagateThroughVolume(
      { depth, width, height, get: embed },
      model,
      [...seeds].map(([z, mask]) => ({ z, mask })),
      { ...options, stopBelow: only === "above", stopAbove: only === "below", onSlice: (s) => progress(s.z, ++done) },
    );
    return { masks: result.masks, slices: result.slices, below: result.below, above: result.above, threshold: options.iouThreshold ?? 0.5 };
  };
}

/** The propagator a canvas uses; a 2D image or `propagate: false` has none, and Shift+S is refused with the reason. */
export function propagatorFor(option: Propagator | false | undefined, depth: number): Propagator {
  if (depth < 2) throw new ActionError("propagation needs a volume; this is a single image");
  if (option === false) throw new ActionError("propagation is turned off for this widget (propagate: false)");
  return option ?? volumePropagator();
}

export interface PropagationArgs {
  readonly propagate: Propagator;
  readonly model: CanvasModel;
  readonly embed: (z: number) => Promise<Embedding>;
  readonly shape: { readonly width: number; readonly height: number; readonly depth: number };
  /** The history's present, with every mask up to date. */
  readonly snapshot: Snapshot;
  /** A line for the status bar as the work goes on. */
  readonly progress: (text: string) => void;
}

function wireOutcome(s: SliceOutcome): WireSliceOutcome {
  return { z: s.z, from: s.from, kind: s.kind, written: s.written, iou: s.predictedIou, overlap: s.iouWithPrevious, area: s.area };
}

function wireDirection(d: DirectionResult | undefined): WireDirection | null {
  return d ? { reason: d.reason, stoppedAt: d.stoppedAt, lastWritten: d.lastWritten } : null;
}

/** A propagator's answer, with or without its per-slice outcomes (a custom one may return only masks). */
function normalize(out: Map<number, Uint8Array> | PropagatorResult): PropagatorResult {
  return out instanceof Map ? { masks: out } : out;
}

async function run(a: PropagationArgs, seeds: Map<number, Uint8Array>, only: "below" | "above" | undefined): Promise<{ result: PropagatorResult; slices: Map<number, Uint8Array> }> {
  const { width, height, depth } = a.shape;
  const n = width * height;
  a.progress(only ? `propagating ${only === "above" ? "up" : "down"} from slice ${[...seeds.keys()][0]}…` : "propagating through the volume…");
  const result = normalize(
    await a.propagate({
      model: a.model,
      embed: a.embed,
      depth,
      width,
      height,
      seeds,
      ...(only ? { only } : {}),
      progress: (z, done) => a.progress(`propagating: slice ${z} (${done} done)…`),
    }),
  );
  const slices = new Map<number, Uint8Array>();
  for (const [z, mask] of result.masks) {
    if (!Number.isInteger(z) || z < 0 || z >= depth || mask.length !== n) {
      throw new Error(`the propagator returned a mask for slice ${z} of ${mask.length} pixels; expected 0..${depth - 1} and ${n}`);
    }
    if (!seeds.has(z)) slices.set(z, encodeRle(mask));
  }
  return { result, slices };
}

/** The report of a run: the propagator's outcomes, or (a custom propagator) the slices it filled. */
function reportOf(result: PropagatorResult, seeds: readonly number[], slices: ReadonlyMap<number, Uint8Array>, shape: { width: number; height: number }): PropagationReport {
  const outcomes = result.slices
    ? result.slices.map(wireOutcome)
    : [...slices].map(([z, rle]): WireSliceOutcome => ({ z, from: z, kind: "propagated", written: true, iou: null, overlap: null, area: decodeRle(rle, shape.width * shape.height).reduce((a, b) => a + b, 0) }));
  return { seeds: [...seeds].sort((a, b) => a - b), restarts: [], threshold: result.threshold ?? null, slices: outcomes.sort((a, b) => a.z - b.z), below: wireDirection(result.below), above: wireDirection(result.above) };
}

/** Runs the propagator from the current object's user-prompted slices: the history step with the slices it filled and its report. */
export async function propagateObject(a: PropagationArgs): Promise<PropagatedAction> {
  const n = a.shape.width * a.shape.height;
  const s = a.snapshot;
  // Seeds: the slices the user prompted (a propagated slice is not a user's annotation).
  const prompted = new Set(slicesWithPrompts(s.prompts));
  const seeds = new Map<number, Uint8Array>();
  for (const [z, m] of s.current) if (m.area > 0 && prompted.has(z)) seeds.set(z, decodeRle(m.rle, n));
  if (seeds.size === 0) throw new ActionError("nothing to propagate: segment the object on one slice first (click it), then press Shift+S");
  const { result, slices } = await run(a, seeds, undefined);
  return { type: "propagated", slices, report: reportOf(result, [...seeds.keys()], slices, a.shape) };
}

/**
 * Propagates again from slice z, as it is now (fixed with prompts or the brush), away from the
 * seeds of the last propagation: up when z is above them, down when below. The masks the last
 * run put beyond z are replaced; the strip keeps its slices up to z and takes the new run's after.
 */
export async function repropagateFrom(a: PropagationArgs, z: number): Promise<PropagatedAction> {
  const s = a.snapshot;
  const n = a.shape.width * a.shape.height;
  const previous = s.propagation;
  const seedsBefore = previous?.seeds ?? slicesWithPrompts(s.prompts);
  const step = repropagateStep(seedsBefore, z);
  const mask = s.current.get(z);
  if (!mask || mask.area === 0) throw new ActionError(`slice ${z} has no mask to propagate from; segment or paint it first`);
  const { result, slices } = await run(a, new Map([[z, decodeRle(mask.rle, n)]]), step === 1 ? "above" : "below");
  // A custom propagator may ignore `only`: keep what lies beyond z.
  for (const k of [...slices.keys()]) if ((k - z) * step <= 0) slices.delete(k);
  const fresh = reportOf(result, [z], slices, a.shape);
  const before = (k: number) => (k - z) * step < 0;
  const report: PropagationReport = {
    seeds: seedsBefore,
    restarts: [...(previous?.restarts ?? []).filter(before), z].sort((p, q) => p - q),
    threshold: fresh.threshold ?? previous?.threshold ?? null,
    slices: [...(previous?.slices ?? []).filter((o) => before(o.z)), ...fresh.slices.filter((o) => (o.z - z) * step > 0)].sort((p, q) => p.z - q.z),
    below: step === -1 ? fresh.below : (previous?.below ?? null),
    above: step === 1 ? fresh.above : (previous?.above ?? null),
  };
  return { type: "propagated", slices, report, beyond: { from: z, step } };
}
