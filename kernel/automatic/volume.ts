/**
 * The generator slice by slice through a volume (in a view's screen orientation, as the canvas
 * shows it), with progress and interrupt. Each slice is embedded on its own; no mask crosses
 * slices (SAM's generator is 2D).
 */
import { extractSlice, viewMapping, type ViewName } from "../io/volume-view.js";
import type { Volume } from "../io/volume.js";
import type { SamModel } from "../sam/model.js";
import { AutomaticMaskGenerator, type MaskRecord } from "./generator.js";
import type { AutomaticOptions } from "./options.js";

export interface VolumeAutomaticOptions extends Omit<AutomaticOptions, "onProgress"> {
  /** Default axial. */
  readonly view?: ViewName;
  /** Screen slice indices to process (default all, in order). */
  readonly slices?: readonly number[];
  /** After each slice: slices done, of how many, and the index just finished. */
  readonly onProgress?: (done: number, total: number, slice: number) => void;
}

export interface SliceMasks {
  readonly slice: number;
  readonly masks: MaskRecord[];
}

export async function generateMasksForVolume(model: SamModel, volume: Volume, options: VolumeAutomaticOptions = {}): Promise<SliceMasks[]> {
  const { view = "axial", slices, onProgress, ...rest } = options;
  const m = viewMapping(volume, view);
  const indices = slices ?? Array.from({ length: m.depth }, (_, i) => i);
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= m.depth) throw new Error(`slice ${i} is outside the ${view} view's 0..${m.depth - 1}.`);
  }
  const generator = new AutomaticMaskGenerator(model, rest);
  try {
    const out: SliceMasks[] = [];
    for (const index of indices) {
      options.signal?.throwIfAborted();
      const masks = await generator.generate(extractSlice(volume, m, index));
      out.push({ slice: index, masks });
      onProgress?.(out.length, indices.length, index);
    }
    return out;
  } finally {
    await generator.dispose();
  }
}
