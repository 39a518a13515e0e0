/**
 * Does the int8 encoder give the same masks? Runs one image through a float32 and an int8
 * model and compares the embeddings and the masks of a fixed prompt set. Used by
 * `medicosam quantize --check`, the quantization tests and the benchmark, so that all three
 * judge quality the same way.
 */
import type { Image2D } from "../io/image.js";
import type { SamModel } from "../sam/model.js";
import type { Prompt } from "../sam/prompt.js";

/** Intersection over union of two binary masks; two empty masks agree perfectly (1). */
export function maskIou(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`maskIou: masks of ${a.length} and ${b.length} pixels.`);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0;
    const y = b[i] !== 0;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return union === 0 ? 1 : inter / union;
}

/** ||a - b|| / ||a|| and max |a - b| of two embeddings. */
export function embeddingError(reference: Float32Array, other: Float32Array): { relative: number; maxAbs: number } {
  if (reference.length !== other.length) throw new Error(`embeddingError: ${reference.length} vs ${other.length} values.`);
  let num = 0;
  let den = 0;
  let maxAbs = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = reference[i]! - other[i]!;
    num += d * d;
    den += reference[i]! * reference[i]!;
    if (Math.abs(d) > maxAbs) maxAbs = Math.abs(d);
  }
  return { relative: den > 0 ? Math.sqrt(num / den) : Math.sqrt(num), maxAbs };
}

/**
 * A fixed, image-size-relative prompt set: single clicks on a 3x3 grid (multimask), clicks with
 * a negative neighbour, and boxes of three sizes around the centre and a corner region. It
 * covers every decoder path (multimask choice, token 0, box corners) without knowing the image.
 */
export function fixedPrompts(width: number, height: number): Prompt[] {
  const at = (fx: number, fy: number) => ({ x: Math.round((width - 1) * fx), y: Math.round((height - 1) * fy) });
  const prompts: Prompt[] = [];
  for (const fy of [0.3, 0.5, 0.7]) {
    for (const fx of [0.3, 0.5, 0.7]) prompts.push({ points: [{ ...at(fx, fy), positive: true }] });
  }
  for (const [fx, fy] of [
    [0.4, 0.45],
    [0.6, 0.55],
  ] as const) {
    prompts.push({ points: [{ ...at(fx, fy), positive: true }, { ...at(fx + 0.08, fy), positive: false }] });
  }
  for (const half of [0.1, 0.2, 0.3]) {
    const a = at(0.5 - half, 0.5 - half);
    const b = at(0.5 + half, 0.5 + half);
    prompts.push({ box: { x0: a.x, y0: a.y, x1: b.x, y1: b.y } });
  }
  const c0 = at(0.15, 0.15);
  const c1 = at(0.45, 0.4);
  prompts.push({ box: { x0: c0.x, y0: c0.y, x1: c1.x, y1: c1.y }, points: [{ ...at(0.3, 0.28), positive: true }] });
  return prompts;
}

export interface PromptAgreement {
  readonly prompt: Prompt;
  readonly iou: number;
  /** Foreground pixels of the float32 mask (an empty reference mask makes a weak check). */
  readonly area: number;
  readonly sameToken: boolean;
}

export interface ModelComparison {
  readonly embedding: { readonly relative: number; readonly maxAbs: number };
  readonly prompts: readonly PromptAgreement[];
  readonly minIou: number;
  readonly meanIou: number;
  /** Encoder times of this one run each (the first run of a session includes warm-up). */
  readonly fp32EncoderMs?: number;
  readonly int8EncoderMs?: number;
}

/** What one model answers on the image: its embedding, and mask + token per prompt. */
interface Answers {
  readonly embedding: Float32Array;
  readonly masks: { readonly mask: Uint8Array; readonly token: number }[];
  readonly encoderMs?: number;
}

async function answers(model: SamModel, image: Image2D, prompts: readonly Prompt[]): Promise<Answers> {
  const e = await model.embed(image);
  const encoderMs = model.timings.encoderMs;
  const masks = [];
  for (const prompt of prompts) {
    const r = await model.segment(e, prompt);
    masks.push({ mask: r.mask, token: r.token });
  }
  return { embedding: e.data, masks, encoderMs };
}

function compare(a: Answers, b: Answers, prompts: readonly Prompt[]): ModelComparison {
  const results: PromptAgreement[] = prompts.map((prompt, i) => {
    const x = a.masks[i]!;
    const y = b.masks[i]!;
    let area = 0;
    for (const v of x.mask) area += v;
    return { prompt, iou: maskIou(x.mask, y.mask), area, sameToken: x.token === y.token };
  });
  const ious = results.map((r) => r.iou);
  return {
    embedding: embeddingError(a.embedding, b.embedding),
    prompts: results,
    minIou: Math.min(...ious),
    meanIou: ious.reduce((s, v) => s + v, 0) / ious.length,
    fp32EncoderMs: a.encoderMs,
    int8EncoderMs: b.encoderMs,
  };
}

/** Embeds `image` with both (loaded) models and segments every prompt with each. */
export async function compareModels(
  fp32: SamModel,
  int8: SamModel,
  image: Image2D,
  prompts: readonly Prompt[] = fixedPrompts(image.width, image.height),
): Promise<ModelComparison> {
  return compare(await answers(fp32, image, prompts), await answers(int8, image, prompts), prompts);
}

/**
 * The same comparison with one model in memory at a time (a ViT-B encoder session holds
 * several GB): each is loaded, asked, and disposed before the next.
 */
export async function compareModelsSequentially(
  loadFp32: () => Promise<SamModel>,
  loadInt8: () => Promise<SamModel>,
  image: Image2D,
  prompts: readonly Prompt[] = fixedPrompts(image.width, image.height),
): Promise<ModelComparison> {
  const ask = async (load: () => Promise<SamModel>) => {
    const model = await load();
    try {
      return await answers(model, image, prompts);
    } finally {
      await model.dispose();
    }
  };
  const a = await ask(loadFp32);
  return compare(a, await ask(loadInt8), prompts);
}
