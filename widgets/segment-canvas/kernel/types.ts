/**
 * The canvas's public types on the kernel side: what it needs from a model, the options of
 * `segmentCanvas`, and what the notebook API hands out (commit events, history entries).
 */
import type { Image2D } from "../../../kernel/io/image.js";
import type { ViewName } from "../../../kernel/io/volume-view.js";
import type { IntensitySpec } from "../../../kernel/intensity/spec.js";
import type { KernelRuntime } from "../../../kernel/jupyter/runtime.js";
import type { DirectionResult, SliceOutcome } from "../../../kernel/interactive/propagate.js";
import type { Embedding } from "../../../kernel/sam/embedding.js";
import type { Prompt } from "../../../kernel/sam/prompt.js";
import type { SegmentResult } from "../../../kernel/sam/segment-result.js";
import type { MultimaskMode } from "../../../kernel/sam/select.js";
import type { Action, WindowLevel, WirePrompts } from "../common/state.js";
import type { LabelsInput } from "./load-labels.js";
import type { CanvasAutomaticOptions } from "./proposals.js";

/** What the canvas needs from a model: `SamModel` satisfies it. */
export interface CanvasModel {
  embed(image: Image2D, options?: { intensity?: IntensitySpec }): Promise<Embedding>;
  segment(embedding: Embedding, prompt: Prompt, options?: { multimask?: MultimaskMode }): Promise<SegmentResult>;
  readonly notice?: string | undefined;
  readonly name?: string;
}

/** A propagator's answer with what it decided per slice (kernel/interactive/propagate.ts's result), for the strip. */
export interface PropagatorResult {
  /** z -> 0/1 mask (row-major, display slice). */
  readonly masks: Map<number, Uint8Array>;
  readonly slices?: readonly SliceOutcome[];
  readonly below?: DirectionResult;
  readonly above?: DirectionResult;
  /** The IoU threshold of its stop test. */
  readonly threshold?: number;
}

/**
 * Propagates the current object from the slices that have a mask to the rest of the volume.
 * Returns z -> 0/1 mask (row-major, display slice) for the slices it filled, or a
 * PropagatorResult that also says what happened on each slice.
 */
export type Propagator = (args: {
  model: CanvasModel;
  embed: (z: number) => Promise<Embedding>;
  depth: number;
  width: number;
  height: number;
  /** z -> 0/1 masks of the slices the user segmented (the seeds). */
  seeds: ReadonlyMap<number, Uint8Array>;
  /** Called after each slice is decided, for the progress line. */
  progress: (z: number, done: number) => void;
  /** Only one direction from the seeds (a re-propagation from a fixed slice). */
  only?: "below" | "above";
}) => Promise<Map<number, Uint8Array> | PropagatorResult>;

export interface SegmentCanvasOptions {
  /** For volumes: the view to show (default axial). */
  view?: ViewName;
  /** Slice shown first (default: the middle one). */
  slice?: number;
  /** Encoder input normalization (default: the model's). The display window does not change it. */
  intensity?: IntensitySpec;
  /** First display window: {level, width} or a preset name ("abdomen", "lung", ...). Default: the full value range. */
  window?: WindowLevel | string;
  multimask?: MultimaskMode;
  /** Segment on every prompt change (default true); otherwise only on S / `w.segment()`. */
  autoSegment?: boolean;
  /** Neighbour slices to embed in the background on each side of the shown one (default 2). */
  prefetch?: number;
  /** Shift+S / `w.propagate()` for volumes: default `volumePropagator()`; false turns it off. */
  propagate?: Propagator | false;
  /**
   * Writes the committed labels to this file (as `save` does) after every change to them, so a
   * kernel crash or a re-run cell loses nothing that was committed.
   */
  autosave?: string;
  /**
   * Committed objects to start from: a label map in the source's layout (e.g. a previous
   * `w.labels` or another model's prediction), or a NIfTI / PNG path. Each label becomes an
   * editable object. Without it, an existing `autosave` file is reopened (see `resume`).
   */
  labels?: LabelsInput;
  /** Reopen the `autosave` file when it exists and no `labels` are given (default true); false starts empty and overwrites it. */
  resume?: boolean;
  /**
   * Options of "segment everything" (key A, `w.segmentEverything()`): segment_anything's
   * generator options (`pointsPerSide`, `predIouThresh`, ...). Default SAM's, with
   * predIouThresh 0.5 and stabilityScoreThresh 0.8 for the demo model.
   */
  automatic?: CanvasAutomaticOptions;
  title?: string;
  /** The kernel to talk to (tests); default the running one. */
  runtime?: KernelRuntime;
}

export interface CommitEvent {
  readonly label: number;
  readonly name: string;
  readonly voxels: number;
  /** Display slices the object covers. */
  readonly slices: readonly number[];
  readonly prompts: WirePrompts;
  /** The object's 0/1 mask in the source's layout (image rows, or voxel order for volumes). */
  mask(): Uint8Array;
}

export interface HistoryEntry {
  readonly time: Date;
  readonly origin: "frontend" | "kernel";
  /** The action, or a label map loaded from code (`w.loadLabels`). */
  readonly action: Action | { readonly type: "load_labels"; readonly objects: number };
  readonly ok: boolean;
  readonly error?: string;
}
