/**
 * Shift+S / `w.propagate()`: the current object carried from the slices the user segmented to
 * the rest of the volume, by a Propagator (micro_sam's volume propagation by default).
 */
import { propagate as propagateThroughVolume, type PropagateOptions } from "../../../kernel/interactive/propagate.js";
import type { Embedding } from "../../../kernel/sam/embedding.js";
import { decodeRle, encodeRle } from "../shared/mask-codec.js";
import type { Snapshot } from "../shared/reducer.js";
import { ActionError } from "../shared/state.js";
import type { CanvasModel, Propagator } from "./types.js";

/**
 * micro_sam's `segment_mask_in_volume` (kernel/interactive/propagate.ts) with its napari
 * defaults: from the seeds outward, each slice prompted with the previous slice's mask, until
 * the IoU with the previous slice drops below 0.5, the mask is empty, or the volume ends.
 */
export function volumePropagator(options: Omit<PropagateOptions, "onSlice"> = {}): Propagator {
  return async ({ model, embed, depth, width, height, seeds, progress }) => {
    let done = 0;
    const result = await propagateThroughVolume(
      { depth, width, height, get: embed },
      model,
      [...seeds].map(([z, mask]) => ({ z, mask })),
      { ...options, onSlice: (s) => progress(s.z, ++done) },
    );
    return result.masks;
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

/** Runs the propagator from the current object's user-prompted slices; returns z -> RLE mask of the slices it filled. */
export async function propagateObject(a: PropagationArgs): Promise<Map<number, Uint8Array>> {
  const { width, height, depth } = a.shape;
  const n = width * height;
  const s = a.snapshot;
  // Seeds: the slices the user prompted (a propagated slice is not a user's annotation).
  const prompted = new Set([...s.prompts.points.map((p) => p.z), ...s.prompts.boxes.map((b) => b.z)]);
  const seeds = new Map<number, Uint8Array>();
  for (const [z, m] of s.current) if (m.area > 0 && prompted.has(z)) seeds.set(z, decodeRle(m.rle, n));
  if (seeds.size === 0) throw new ActionError("nothing to propagate: segment the object on one slice first (click it), then press Shift+S");
  a.progress("propagating through the volume…");
  const filled = await a.propagate({
    model: a.model,
    embed: a.embed,
    depth,
    width,
    height,
    seeds,
    progress: (z, done) => a.progress(`propagating: slice ${z} (${done} done)…`),
  });
  const slices = new Map<number, Uint8Array>();
  for (const [z, mask] of filled) {
    if (!Number.isInteger(z) || z < 0 || z >= depth || mask.length !== n) {
      throw new Error(`the propagator returned a mask for slice ${z} of ${mask.length} pixels; expected 0..${depth - 1} and ${n}`);
    }
    slices.set(z, encodeRle(mask));
  }
  return slices;
}
