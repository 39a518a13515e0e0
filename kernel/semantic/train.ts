/**
 * Fitting a head on labelled images: full-batch AdamW over every labelled cell of every sample,
 * with class balancing, a seeded validation split, early stopping on the validation loss (the best
 * epoch's weights are kept), progress after each epoch and an AbortSignal.
 *
 * Full batch because the data are small (a few slices = a few ten thousand cells) and the result
 * must not depend on batch order; the event loop gets a turn after every epoch so that a
 * notebook's interrupt and progress displays go through.
 */
import { EMBEDDING_CHANNELS, type Embedding } from "../sam/embedding.js";
import { SeededRandom } from "../analysis/rng.js";
import { softCrossEntropy } from "./layers.js";
import { cellGrid, cellTargets, tokenFeatures, type CellGrid } from "./grid.js";
import { backward, cloneParams, forward, headFactor, initParams, zeroGrads, type HeadParams, type HeadShape } from "./heads.js";

/** One labelled image: its embedding and a label map of its pixels (row-major, original size). */
export interface SemanticSample {
  readonly embedding: Embedding;
  readonly labels: ArrayLike<number>;
  /** Where it came from, e.g. "axial slice 10" (kept in the training report). */
  readonly name?: string;
}

/**
 * How classes are weighted against their pixel frequency f: "sqrt" weighs by 1/sqrt(f) (default: small
 * organs count, without the false positives full balancing brings), "inverse" by 1/f, "none" equally.
 */
export type ClassBalance = "sqrt" | "inverse" | "none";

export interface TrainProgress {
  readonly epoch: number;
  readonly maxEpochs: number;
  readonly trainLoss: number;
  /** NaN without a validation split. */
  readonly validationLoss: number;
  readonly bestEpoch: number;
  readonly elapsedS: number;
}

export type StopReason = "early-stopping" | "max-epochs" | "interrupted";

export interface TrainingReport {
  readonly samples: readonly string[];
  readonly epochs: number;
  readonly bestEpoch: number;
  readonly stopped: StopReason;
  readonly trainLoss: number;
  readonly validationLoss: number;
  readonly elapsedS: number;
  /** Labelled pixels per class (in the order of the head's classes) and the weight each got. */
  readonly classPixels: readonly number[];
  readonly classWeights: readonly number[];
  readonly trainCells: number;
  readonly validationCells: number;
  readonly history: readonly { readonly epoch: number; readonly trainLoss: number; readonly validationLoss: number }[];
}

export interface FitOptions {
  readonly balance?: ClassBalance;
  /** Fraction of the labelled tokens held out for early stopping (default 0.2; 0 = none). */
  readonly validationFraction?: number;
  readonly maxEpochs?: number;
  /** Epochs without a better validation loss before stopping (default 10). */
  readonly patience?: number;
  readonly learningRate?: number;
  readonly weightDecay?: number;
  readonly seed?: number;
  readonly onProgress?: (p: TrainProgress) => void;
  readonly signal?: AbortSignal;
}

export interface FitResult {
  readonly params: HeadParams;
  readonly report: TrainingReport;
}

interface Prepared {
  readonly x: Float32Array;
  readonly grid: CellGrid;
  readonly targets: Float32Array;
  readonly trainWeight: Float32Array;
  readonly validationWeight: Float32Array;
  readonly trainSum: number;
}

/** Per-channel mean and standard deviation of the image tokens of `embeddings` (features are standardised with them). */
export function featureStats(embeddings: readonly Embedding[]): { mean: Float32Array; std: Float32Array } {
  const k = EMBEDDING_CHANNELS;
  const sum = new Float64Array(k);
  const sq = new Float64Array(k);
  let n = 0;
  for (const e of embeddings) {
    const g = cellGrid(e, 1);
    const x = tokenFeatures(e, g);
    const tokens = g.tokenRows * g.tokenCols;
    for (let i = 0; i < tokens; i++) {
      for (let c = 0; c < k; c++) {
        const v = x[i * k + c]!;
        sum[c]! += v;
        sq[c]! += v * v;
      }
    }
    n += tokens;
  }
  const mean = new Float32Array(k);
  const std = new Float32Array(k);
  for (let c = 0; c < k; c++) {
    const m = sum[c]! / n;
    mean[c] = m;
    std[c] = Math.sqrt(Math.max(sq[c]! / n - m * m, 0)) || 1;
  }
  return { mean, std };
}

function classWeights(pixels: readonly number[], balance: ClassBalance): number[] {
  const total = pixels.reduce((a, b) => a + b, 0);
  if (total === 0) throw new Error("the training slices hold no labelled pixel of the head's classes");
  const power = balance === "inverse" ? 1 : balance === "sqrt" ? 0.5 : 0;
  const raw = pixels.map((n) => (n > 0 ? Math.pow(total / n, power) : 0));
  // normalised so that the mean weight per labelled pixel is 1 (the loss keeps its scale)
  const mean = raw.reduce((a, w, i) => a + w * pixels[i]!, 0) / total;
  return raw.map((w) => w / mean);
}

/** Trains a head of `shape` on `samples`, from a copy of `start` or from a seeded initialisation. */
export async function fitHead(
  shape: HeadShape,
  samples: readonly SemanticSample[],
  classIndex: ReadonlyMap<number, number>,
  stats: { mean: Float32Array; std: Float32Array },
  start: HeadParams | undefined,
  options: FitOptions = {},
): Promise<FitResult> {
  if (samples.length === 0) throw new Error("no training samples: give at least one labelled slice or image");
  const seed = options.seed ?? 0;
  const rng = new SeededRandom(seed);
  const ch = shape.classes;
  const factor = headFactor(shape.kind);
  const fraction = options.validationFraction ?? 0.2;
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`validationFraction must be in [0, 1), got ${fraction}`);
  const balance = options.balance ?? "sqrt";
  if (!["sqrt", "inverse", "none"].includes(balance)) throw new Error(`balance must be 'sqrt', 'inverse' or 'none', got '${String(balance)}'`);

  // targets and class pixel counts
  const raw = samples.map((s) => {
    const grid = cellGrid(s.embedding, factor);
    return { grid, ...cellTargets(s.labels, s.embedding, grid, classIndex) };
  });
  const classPixels = new Array<number>(ch).fill(0);
  for (const r of raw) {
    const cells = r.grid.rows * r.grid.cols;
    for (let i = 0; i < cells; i++) for (let k = 0; k < ch; k++) classPixels[k]! += r.targets[i * ch + k]! * r.pixels[i]!;
  }
  const weights = classWeights(classPixels, balance);
  let trainCells = 0;
  let validationCells = 0;
  const prepared: Prepared[] = raw.map((r, si) => {
    const { grid } = r;
    const held = new Uint8Array(grid.tokenRows * grid.tokenCols);
    for (let i = 0; i < held.length; i++) held[i] = rng.next() < fraction ? 1 : 0;
    const cells = grid.rows * grid.cols;
    const trainWeight = new Float32Array(cells);
    const validationWeight = new Float32Array(cells);
    for (let i = 0; i < cells; i++) {
      if (r.pixels[i] === 0) continue;
      let w = 0;
      for (let k = 0; k < ch; k++) w += r.targets[i * ch + k]! * weights[k]!;
      const token = Math.floor(Math.floor(i / grid.cols) / factor) * grid.tokenCols + Math.floor((i % grid.cols) / factor);
      if (held[token]) {
        validationWeight[i] = w;
        validationCells++;
      } else {
        trainWeight[i] = w;
        trainCells++;
      }
    }
    return {
      x: tokenFeatures(samples[si]!.embedding, grid, stats.mean, stats.std),
      grid,
      targets: r.targets,
      trainWeight,
      validationWeight,
      trainSum: trainWeight.reduce((a, b) => a + b, 0),
    };
  });
  if (trainCells === 0) throw new Error("no labelled cell is left for training; lower validationFraction or label more");
  const sumTrain = prepared.reduce((a, p) => a + p.trainWeight.reduce((x, y) => x + y, 0), 0);
  const sumVal = prepared.reduce((a, p) => a + p.validationWeight.reduce((x, y) => x + y, 0), 0);

  const maxEpochs = options.maxEpochs ?? (shape.kind === "linear" ? 150 : 50);
  const patience = options.patience ?? 10;
  const lr = options.learningRate ?? (shape.kind === "linear" ? 0.03 : 0.01);
  const decay = options.weightDecay ?? 1e-4;
  const params = start ? cloneParams(start) : initParams(shape, rng);
  const m = zeroGrads(params);
  const v = zeroGrads(params);
  let best = cloneParams(params);
  let bestLoss = Infinity;
  let bestEpoch = 0;
  const history: { epoch: number; trainLoss: number; validationLoss: number }[] = [];
  const started = performance.now();
  let stopped: StopReason = "max-epochs";
  let epoch: number;
  let lastTrain = NaN;
  let lastVal = NaN;
  for (epoch = 1; epoch <= maxEpochs; epoch++) {
    if (options.signal?.aborted) {
      stopped = "interrupted";
      epoch--;
      break;
    }
    // one AdamW step per sample (a slice is a natural batch: three slices give three steps an epoch)
    let trainLoss = 0;
    let valLoss = 0;
    let step = (epoch - 1) * prepared.length;
    for (const si of shuffled(prepared.length, rng)) {
      const p = prepared[si]!;
      const grads = zeroGrads(params);
      const state = forward(shape, params, p.x, p.grid);
      const cells = p.grid.rows * p.grid.cols;
      if (sumVal > 0) valLoss += softCrossEntropy(state.logits, p.targets, p.validationWeight, cells, ch, undefined, 0);
      const d = new Float32Array(state.logits.length);
      trainLoss += softCrossEntropy(state.logits, p.targets, p.trainWeight, cells, ch, d, 1 / p.trainSum);
      if (p.trainSum === 0) continue;
      backward(shape, params, p.x, p.grid, state, d, grads);
      adamStep(params, grads, m, v, ++step, lr, decay);
    }
    lastTrain = trainLoss / sumTrain;
    lastVal = sumVal > 0 ? valLoss / sumVal : NaN;
    history.push({ epoch, trainLoss: lastTrain, validationLoss: lastVal });
    // the losses were measured during the epoch's steps: close to, not exactly, the weights after it
    const monitored = sumVal > 0 ? lastVal : lastTrain;
    if (monitored < bestLoss - 1e-5) {
      bestLoss = monitored;
      bestEpoch = epoch;
      best = cloneParams(params);
    } else if (epoch - bestEpoch >= patience) {
      stopped = "early-stopping";
      options.onProgress?.({ epoch, maxEpochs, trainLoss: lastTrain, validationLoss: lastVal, bestEpoch, elapsedS: (performance.now() - started) / 1000 });
      break;
    }
    options.onProgress?.({ epoch, maxEpochs, trainLoss: lastTrain, validationLoss: lastVal, bestEpoch, elapsedS: (performance.now() - started) / 1000 });
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (epoch > maxEpochs) epoch = maxEpochs;
  if (bestLoss === Infinity) best = params;
  return {
    params: best,
    report: {
      samples: samples.map((s, i) => s.name ?? `sample ${i}`),
      epochs: epoch,
      bestEpoch,
      stopped,
      trainLoss: lastTrain,
      validationLoss: lastVal,
      elapsedS: (performance.now() - started) / 1000,
      classPixels,
      classWeights: weights,
      trainCells,
      validationCells,
      history,
    },
  };
}

/** 0..n-1 in a seeded random order. */
function shuffled(n: number, rng: SeededRandom): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** AdamW (decoupled weight decay on weight matrices, not on biases). */
function adamStep(
  params: HeadParams,
  grads: Record<string, Float32Array>,
  m: Record<string, Float32Array>,
  v: Record<string, Float32Array>,
  step: number,
  lr: number,
  decay: number,
): void {
  const b1 = 0.9;
  const b2 = 0.999;
  const c1 = 1 - Math.pow(b1, step);
  const c2 = 1 - Math.pow(b2, step);
  for (const [name, tensor] of Object.entries(params)) {
    const w = tensor.data;
    const g = grads[name]!;
    const mm = m[name]!;
    const vv = v[name]!;
    const wd = tensor.shape.length > 1 ? decay : 0;
    for (let i = 0; i < w.length; i++) {
      const gi = g[i]!;
      mm[i] = b1 * mm[i]! + (1 - b1) * gi;
      vv[i] = b2 * vv[i]! + (1 - b2) * gi * gi;
      w[i] = w[i]! - lr * ((mm[i]! / c1) / (Math.sqrt(vv[i]! / c2) + 1e-8) + wd * w[i]!);
    }
  }
}
