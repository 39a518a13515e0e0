/**
 * A trained semantic head: classes, feature standardisation, weights, and how it was trained.
 * `trainSemanticHead` fits one; `predict` labels an image from its embedding (per-class
 * probabilities on request); `predictVolume` labels every slice of a volume (embedding store
 * first, the encoder only where a slice is missing); `update` retrains with added samples.
 */
import type { Embedding } from "../sam/embedding.js";
import type { VolumeEmbeddings } from "../cache/volume-embeddings.js";
import { writeSliceOf } from "../io/volume-view.js";
import type { Vec3 } from "../io/volume.js";
import { bilinearForward } from "./layers.js";
import { cellGrid, pixelTaps, tokenFeatures } from "./grid.js";
import { forward, headFactor, HEAD_KINDS, type HeadKind, type HeadParams, type HeadShape } from "./heads.js";
import { featureStats, fitHead, type FitOptions, type SemanticSample, type TrainingReport } from "./train.js";

export interface TrainHeadOptions extends FitOptions {
  /** "conv" (default: full resolution) or "linear" (the probe at the token grid). */
  readonly kind?: HeadKind;
  /** Hidden width of the conv head (default 16). */
  readonly hidden?: number;
  /** Label ids the head predicts (0 = background is always included); default every label in the samples. */
  readonly classes?: readonly number[];
  /** Names of label ids, for tables and the saved file (e.g. PHANTOM_LABEL_NAMES). */
  readonly classNames?: Readonly<Record<number, string>> | readonly string[];
}

export interface SlicePrediction {
  readonly width: number;
  readonly height: number;
  /** Label id per pixel (row-major). */
  readonly labels: Uint8Array | Uint16Array;
  /** With `probabilities: true`: one map per class of `head.classes`, softmax over classes. */
  readonly probabilities?: readonly Float32Array[];
}

export interface VolumePrediction {
  /** Label id per voxel, in the volume's voxel order (what writeLabelMap takes). */
  readonly labels: Uint8Array | Uint16Array;
  readonly dims: Vec3;
  /** With `probabilities: true`: one map per class, voxel order. */
  readonly probabilities?: readonly Float32Array[];
  /** Milliseconds of the head alone (not the embeddings), per slice. */
  readonly headMsPerSlice: number;
  readonly slices: number;
}

export interface PredictVolumeOptions {
  readonly probabilities?: boolean;
  /** Slice indices of the view (default all). Others stay 0. */
  readonly slices?: readonly number[];
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
}

/** Who produced the features the head was trained on: predictions check it. */
export interface HeadModelInfo {
  readonly name: string;
}

function labelArray(n: number, maxLabel: number): Uint8Array | Uint16Array {
  if (maxLabel > 0xffff) throw new Error(`label ${maxLabel} is too large for a semantic head (max 65535)`);
  return maxLabel > 0xff ? new Uint16Array(n) : new Uint8Array(n);
}

export class SemanticHead {
  /** Training samples this head was fitted on (kept so that `update` can add to them; empty after `load`). */
  private readonly samples: readonly SemanticSample[];

  constructor(
    readonly kind: HeadKind,
    /** Label id of each output, in output order; classes[0] is 0 (background). */
    readonly classes: readonly number[],
    readonly classNames: readonly string[],
    readonly hidden: number,
    readonly featureMean: Float32Array,
    readonly featureStd: Float32Array,
    readonly params: HeadParams,
    readonly model: HeadModelInfo,
    readonly report: TrainingReport | undefined,
    samples: readonly SemanticSample[] = [],
  ) {
    if (!HEAD_KINDS.includes(kind)) throw new Error(`head kind must be one of ${HEAD_KINDS.join(", ")}, got '${String(kind)}'`);
    this.samples = samples;
  }

  get shape(): HeadShape {
    return { kind: this.kind, classes: this.classes.length, hidden: this.hidden };
  }

  /** Labels (and on request per-class probabilities) of the image `embedding` was computed from. */
  predict(embedding: Embedding, options: { probabilities?: boolean } = {}): SlicePrediction {
    if (embedding.modelName !== this.model.name) {
      throw new Error(`this head was trained on embeddings of model '${this.model.name}', not '${embedding.modelName}'; embed with '${this.model.name}' or train a head for '${embedding.modelName}'.`);
    }
    const grid = cellGrid(embedding, headFactor(this.kind));
    const x = tokenFeatures(embedding, grid, this.featureMean, this.featureStd);
    const { logits } = forward(this.shape, this.params, x, grid);
    const taps = pixelTaps(embedding, grid);
    const ch = this.classes.length;
    const full = bilinearForward(logits, grid.cols, ch, taps.rows, taps.cols);
    const { width, height } = embedding.originalSize;
    const n = width * height;
    const labels = labelArray(n, Math.max(...this.classes));
    const probs = options.probabilities ? this.classes.map(() => new Float32Array(n)) : undefined;
    for (let i = 0; i < n; i++) {
      const o = i * ch;
      let arg = 0;
      let max = full[o]!;
      for (let k = 1; k < ch; k++) {
        if (full[o + k]! > max) {
          max = full[o + k]!;
          arg = k;
        }
      }
      labels[i] = this.classes[arg]!;
      if (probs) {
        let sum = 0;
        for (let k = 0; k < ch; k++) sum += Math.exp(full[o + k]! - max);
        for (let k = 0; k < ch; k++) probs[k]![i] = Math.exp(full[o + k]! - max) / sum;
      }
    }
    return { width, height, labels, ...(probs ? { probabilities: probs } : {}) };
  }

  /** Every slice (or `slices`) of a volume view, as a label map in the volume's voxel order. */
  async predictVolume(embeddings: VolumeEmbeddings, options: PredictVolumeOptions = {}): Promise<VolumePrediction> {
    const m = embeddings.mapping;
    const dimsArr = [0, 0, 0];
    dimsArr[m.colAxis] = m.width;
    dimsArr[m.rowAxis] = m.height;
    dimsArr[m.sliceAxis] = m.depth;
    const dims: Vec3 = [dimsArr[0]!, dimsArr[1]!, dimsArr[2]!];
    const n = dims[0] * dims[1] * dims[2];
    const labels = labelArray(n, Math.max(...this.classes));
    const probabilities = options.probabilities ? this.classes.map(() => new Float32Array(n)) : undefined;
    const slices = options.slices ?? Array.from({ length: m.depth }, (_, z) => z);
    let headMs = 0;
    for (const [i, z] of slices.entries()) {
      if (options.signal?.aborted) throw new Error(`prediction interrupted after ${i} of ${slices.length} slices`);
      const e = await embeddings.get(z);
      const t0 = performance.now();
      const p = this.predict(e, { probabilities: !!probabilities });
      headMs += performance.now() - t0;
      writeSliceOf(labels, dims, m, z, p.labels);
      if (probabilities) p.probabilities!.forEach((pm, k) => writeSliceOf(probabilities[k]!, dims, m, z, pm));
      options.onProgress?.(i + 1, slices.length);
    }
    return { labels, dims, ...(probabilities ? { probabilities } : {}), headMsPerSlice: slices.length ? headMs / slices.length : 0, slices: slices.length };
  }

  /** Writes the head as one small JSON file (format: head-file.ts), e.g. next to the labels it learned from. */
  async save(path: string): Promise<void> {
    const { saveSemanticHead } = await import("./head-file.js");
    await saveSemanticHead(this, path);
  }

  /** Reads a head written by `save`; damaged or foreign files are refused with what is wrong. */
  static async load(path: string): Promise<SemanticHead> {
    const { loadSemanticHead } = await import("./head-file.js");
    return loadSemanticHead(path);
  }

  /**
   * Retrains with `added` samples on top of the ones this head was trained on (a corrected slice
   * replaces an earlier sample of the same name), starting from the current weights. A loaded head
   * has no samples: it is then fine-tuned on `added` alone.
   */
  async update(added: readonly SemanticSample[], options: FitOptions = {}): Promise<SemanticHead> {
    const names = new Set(added.map((s) => s.name).filter((n) => n !== undefined));
    const samples = [...this.samples.filter((s) => s.name === undefined || !names.has(s.name)), ...added];
    const index = new Map(this.classes.map((c, i) => [c, i]));
    const { params, report } = await fitHead(this.shape, samples, index, { mean: this.featureMean, std: this.featureStd }, this.params, options);
    return new SemanticHead(this.kind, this.classes, this.classNames, this.hidden, this.featureMean, this.featureStd, params, this.model, report, samples);
  }
}

function nameOf(names: TrainHeadOptions["classNames"], id: number): string {
  if (!names) return id === 0 ? "background" : `class ${id}`;
  const n = Array.isArray(names) ? (names as readonly string[])[id] : (names as Readonly<Record<number, string>>)[id];
  return n ?? (id === 0 ? "background" : `class ${id}`);
}

/** Label ids present in the samples, background first. */
export function labelsIn(samples: readonly SemanticSample[]): number[] {
  const seen = new Set<number>([0]);
  for (const s of samples) for (let i = 0; i < s.labels.length; i++) seen.add(s.labels[i]!);
  return [...seen].sort((a, b) => a - b);
}

/** Fits a semantic head on labelled images (their embeddings and label maps). */
export async function trainSemanticHead(samples: readonly SemanticSample[], options: TrainHeadOptions = {}): Promise<SemanticHead> {
  if (samples.length === 0) throw new Error("trainSemanticHead needs at least one labelled sample");
  const model = samples[0]!.embedding.modelName;
  const other = samples.find((s) => s.embedding.modelName !== model);
  if (other) throw new Error(`samples mix embeddings of models '${model}' and '${other.embedding.modelName}'; a head reads one model's features`);
  const kind = options.kind ?? "conv";
  if (!HEAD_KINDS.includes(kind)) throw new Error(`head kind must be one of ${HEAD_KINDS.join(", ")}, got '${String(kind)}'`);
  const hidden = kind === "conv" ? (options.hidden ?? 16) : 0;
  if (kind === "conv" && !(Number.isInteger(hidden) && hidden > 0)) throw new Error(`hidden must be a positive integer, got ${hidden}`);
  const classes = options.classes ? [...new Set([0, ...options.classes])].sort((a, b) => a - b) : labelsIn(samples);
  for (const c of classes) if (!(Number.isInteger(c) && c >= 0 && c <= 0xffff)) throw new Error(`class ${c} is not a label id (0..65535)`);
  if (classes.length < 2) throw new Error("the samples hold only background; label at least one object");
  const stats = featureStats(samples.map((s) => s.embedding));
  const index = new Map(classes.map((c, i) => [c, i]));
  const shape: HeadShape = { kind, classes: classes.length, hidden };
  const { params, report } = await fitHead(shape, samples, index, stats, undefined, options);
  return new SemanticHead(kind, classes, classes.map((c) => nameOf(options.classNames, c)), hidden, stats.mean, stats.std, params, { name: model }, report, samples);
}
