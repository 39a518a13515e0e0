/**
 * Checks that a rewritten encoder computes what the original computes: both graphs run on the
 * same inputs, one random and one real image (the shipped CT phantom slice, preprocessed as SAM
 * does), and the largest absolute difference of their outputs must stay within a tolerance
 * (1e-4 by default, the bound; the rewrites measure ~3e-6 on SAM ViT-B).
 *
 * The two sessions run one after the other, never side by side: an unoptimized ViT-B alone
 * peaks near 4 GB.
 */
import { join } from "node:path";
import ort from "onnxruntime-node";
import { toRgb8 } from "../../intensity/normalize.js";
import { readImage } from "../../io/read-image.js";
import { packageRoot } from "../../package-root.js";
import { preprocess } from "../../sam/preprocess.js";

export const DEFAULT_TOLERANCE = 1e-4;

export interface EquivalenceInput {
  readonly name: string;
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export interface EquivalenceResult {
  readonly inputs: readonly { readonly name: string; readonly maxAbsDiff: number; readonly maxAbsValue: number }[];
  readonly maxAbsDiff: number;
  readonly tolerance: number;
  readonly ok: boolean;
}

/** Deterministic uniform noise in [-2, 2]: the range of SAM-normalized pixels. */
function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

/** The random and the real input for an encoder taking [1, 3, size, size]. */
export async function equivalenceInputs(size: number): Promise<EquivalenceInput[]> {
  const dims = [1, 3, size, size];
  const image = await readImage(join(packageRoot(), "data", "phantom-slice.png"));
  const real = preprocess(toRgb8(image), { imageSize: size }).tensor;
  return [
    { name: "random", data: noise(3 * size * size, 20261207), dims },
    { name: "CT phantom slice", data: real, dims },
  ];
}

function createSession(model: string | Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof model === "string" ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

async function runAll(model: string | Uint8Array, inputs: readonly EquivalenceInput[]): Promise<Float32Array[]> {
  const session = await createSession(model, { enableMemPattern: false, graphOptimizationLevel: "all" });
  try {
    const name = session.inputNames[0]!;
    const output = session.outputNames[0]!;
    const results: Float32Array[] = [];
    for (const x of inputs) {
      const r = await session.run({ [name]: new ort.Tensor("float32", x.data, x.dims as number[]) }, [output]);
      results.push(r[output]!.data as Float32Array);
    }
    return results;
  } finally {
    await session.release();
  }
}

/** The encoder's input side, read from the graph's first input ([1, 3, S, S]). */
export async function encoderInputSize(model: string | Uint8Array): Promise<number> {
  const session = await createSession(model, { enableMemPattern: false, enableCpuMemArena: false });
  try {
    const meta = session.inputMetadata[0];
    const shape = meta && "shape" in meta ? (meta.shape as readonly (number | string)[]) : [];
    const side = shape[3];
    if (shape.length !== 4 || typeof side !== "number" || shape[2] !== side) {
      throw new Error(`the encoder's input is [${shape.join(", ")}], not [1, 3, S, S] with a fixed S`);
    }
    return side;
  } finally {
    await session.release();
  }
}

export async function verifyEquivalence(
  original: string | Uint8Array,
  rewritten: string | Uint8Array,
  options: { tolerance?: number; inputs?: readonly EquivalenceInput[] } = {},
): Promise<EquivalenceResult> {
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  const inputs = options.inputs ?? (await equivalenceInputs(await encoderInputSize(original)));
  const a = await runAll(original, inputs);
  const b = await runAll(rewritten, inputs);
  const per = inputs.map((x, k) => {
    let maxAbsDiff = 0;
    let maxAbsValue = 0;
    const ya = a[k]!;
    const yb = b[k]!;
    if (ya.length !== yb.length) throw new Error(`the rewritten encoder's output has ${yb.length} values, the original's ${ya.length}`);
    for (let i = 0; i < ya.length; i++) {
      const d = Math.abs(ya[i]! - yb[i]!);
      // NaN must fail the check, not pass it.
      if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Infinity : d;
      maxAbsValue = Math.max(maxAbsValue, Math.abs(ya[i]!));
    }
    return { name: x.name, maxAbsDiff, maxAbsValue };
  });
  const maxAbsDiff = Math.max(...per.map((p) => p.maxAbsDiff));
  return { inputs: per, maxAbsDiff, tolerance, ok: maxAbsDiff <= tolerance };
}
