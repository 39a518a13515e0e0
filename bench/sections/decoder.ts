/**
 * Decoder + postprocessing per click through the engine's segment(), on a 512x512 image: what
 * the user waits for between a click and the mask. It uses a synthetic embedding (the decoder's
 * cost does not depend on its values) so that this section needs no encoder run; the encoder
 * section measures clicks right after an encoding, which is where memory planning bites.
 */
import * as ort from "onnxruntime-node";
import { samSessionOptions } from "../../kernel/sam/session-options.js";
import type { Embedding } from "../../kernel/sam/embedding.js";
import { loadModel, type SamModel } from "../../kernel/sam/model.js";
import type { Prompt } from "../../kernel/sam/prompt.js";
import { defaultBenchModelDir } from "../../models/bench/generate.js";
import { gaussian, rng } from "../../models/bench/random.js";
import { buildSamDecoder } from "../../models/bench/sam-decoder.js";
import { resizeBilinearTorch } from "../../kernel/sam/resize.js";
import { cpuMs } from "../memory.js";
import { summarize, timeRuns, type Summary } from "../stats.js";
import type { Metric, SectionConfig, SectionResult } from "../types.js";
import { agreementMetrics, emptyOutputs, type RunOutputs } from "./device-agreement.js";

export const DECODER_TARGET_MS = 25;

/**
 * An interaction as a user makes it: a first click, corrective clicks (some negative), with the
 * previous logits fed back, and box prompts. Deterministic for a seed.
 */
export function clickSequence(count: number, size: number, seed = 3): { prompt: Prompt; kind: string }[] {
  const next = rng(seed);
  const at = () => Math.floor(next() * size);
  const out: { prompt: Prompt; kind: string }[] = [];
  for (let i = 0; out.length < count; i++) {
    const points = [{ x: at(), y: at(), positive: true }];
    out.push({ prompt: { points }, kind: "1 point" });
    points.push({ x: at(), y: at(), positive: false }, { x: at(), y: at(), positive: true });
    out.push({ prompt: { points: [...points] }, kind: "3 points" });
    const x0 = at();
    const y0 = at();
    out.push({ prompt: { box: { x0, y0, x1: Math.min(size - 1, x0 + 80), y1: Math.min(size - 1, y0 + 60) } }, kind: "box" });
  }
  return out.slice(0, count);
}

export function syntheticEmbedding(modelName: string, size = 512): Embedding {
  return {
    data: gaussian(rng(5), 256 * 64 * 64),
    originalSize: { height: size, width: size },
    resizedSize: { height: 1024, width: 1024 },
    modelName,
    key: "bench-synthetic",
  };
}

/**
 * The decoder session alone, without the engine (prompt encoding, mask selection, threshold), so
 * that the engine's own share of a click can be read off. Same session options as the engine.
 */
async function rawSessionRun(
  decoderPath: string | Uint8Array,
  options: Record<string, unknown> | undefined,
  embedding: Float32Array,
  runs: number,
  after?: (out: ort.InferenceSession.ReturnType) => void,
): Promise<Summary> {
  const sessionOptions = { ...samSessionOptions(), ...options };
  const session = typeof decoderPath === "string" ? await ort.InferenceSession.create(decoderPath, sessionOptions) : await ort.InferenceSession.create(decoderPath, sessionOptions);
  try {
    const next = rng(13);
    return await timeRuns(
      async () => {
        const out = await session.run({
          image_embeddings: new ort.Tensor("float32", embedding, [1, 256, 64, 64]),
          // One click in the 1024 frame of a 512x512 image, plus the padding point.
          point_coords: new ort.Tensor("float32", Float32Array.of(next() * 1024, next() * 1024, 0, 0), [1, 2, 2]),
          point_labels: new ort.Tensor("float32", Float32Array.of(1, -1), [1, 2]),
          mask_input: new ort.Tensor("float32", new Float32Array(256 * 256), [1, 1, 256, 256]),
          has_mask_input: new ort.Tensor("float32", Float32Array.of(0), [1]),
          orig_im_size: new ort.Tensor("float32", Float32Array.of(512, 512), [2]),
        });
        after?.(out);
      },
      { warmup: 3, runs },
    );
  } finally {
    await session.release();
  }
}

/** The clicks through segment(): per-click figures, and what each prompt returned (for --device). */
async function clickRun(model: SamModel, runs: number): Promise<{ perClick: Metric[]; emb: Embedding; prompts: Prompt[]; outputs: RunOutputs }> {
  const emb = syntheticEmbedding(model.manifest.name);
  const clicks = clickSequence(runs + 5, 512);
  const byKind = new Map<string, number[]>();
  const all: number[] = [];
  const cpu: number[] = [];
  const prompts: Prompt[] = [];
  const outputs = emptyOutputs();
  let previous: Float32Array | undefined;
  for (let i = 0; i < clicks.length; i++) {
    const { prompt, kind } = clicks[i]!;
    // Corrective clicks carry the previous low-res logits, as an interactive session does.
    const withMask: Prompt = kind === "3 points" && previous ? { ...prompt, mask: { kind: "logits", logits: previous } } : prompt;
    const t0 = performance.now();
    const c0 = cpuMs();
    const res = await model.segment(emb, withMask);
    const ms = performance.now() - t0;
    const cms = cpuMs() - c0;
    if (res.mask.length !== 512 * 512 || !Number.isFinite(res.iou)) {
      throw new Error(`decoder returned a ${res.width}x${res.height} mask with iou ${res.iou}; expected 512x512 and a finite score`);
    }
    previous = res.lowResLogits;
    prompts.push(withMask);
    outputs.masks.push(res.mask);
    outputs.tokens.push(res.token);
    outputs.ious.push(res.iou);
    if (i < 5) continue; // warm-up
    all.push(ms);
    cpu.push(cms);
    const k = kind === "3 points" ? "3 points + mask" : kind;
    byKind.set(k, [...(byKind.get(k) ?? []), ms]);
  }
  const where = model.devices.decoder;
  const perClick: Metric[] = [
    {
      name: `segment() per click, 512x512, all prompts${where === "cpu" ? "" : ` [decoder on ${where}]`}`,
      unit: "ms",
      summary: summarize(all),
      target: { max: DECODER_TARGET_MS, text: `p50 < ${DECODER_TARGET_MS} ms` },
    },
    ...[...byKind].map(([k, v]) => ({ name: `segment() ${k}`, unit: "ms", summary: summarize(v) })),
    { name: "segment() CPU time, all threads", unit: "ms", summary: summarize(cpu), note: "steadier than wall on a busy machine" },
  ];
  return { perClick, emb, prompts, outputs };
}

/**
 * `--device`: the clicks with the decoder there, then the same click sequence with the decoder
 * on the CPU (each run feeding back its own previous logits, as a session does).
 */
async function runOnDevice(config: SectionConfig, runs: number): Promise<SectionResult> {
  const modelDir = config.modelDir ?? defaultBenchModelDir();
  const model = await loadModel(modelDir, {
    verifyChecksums: false,
    // The encoder is not used here; the decoder is what this section times.
    device: "cpu",
    decoderDevice: config.device,
    ...(config.decoderSessionOptions ? { decoderSessionOptions: config.decoderSessionOptions } : {}),
  });
  const where = model.devices.decoder;
  let metrics: Metric[];
  let onDevice: RunOutputs;
  let prompts: Prompt[];
  try {
    const run = await clickRun(model, runs);
    ({ outputs: onDevice, prompts } = run);
    const options = { ...config.decoderSessionOptions, executionProviders: [where], logSeverityLevel: 3 as const };
    const raw = await rawSessionRun(model.decoderPath, options, run.emb.data, Math.max(10, Math.round(runs / 2)));
    metrics = [...run.perClick, { name: `decoder session.run alone (1 point, no engine) [${where}]`, unit: "ms", summary: raw }];
  } finally {
    await model.dispose();
  }
  const cpu = await loadModel(modelDir, { verifyChecksums: false, device: "cpu" });
  try {
    const onCpu = (await clickRun(cpu, runs)).outputs;
    metrics.push(...agreementMetrics(where, `decoder on ${where}`, onDevice, onCpu));
  } finally {
    await cpu.dispose();
  }
  return { section: "decoder", metrics, details: { device: config.device, decoderDevice: where, prompts: prompts.length } };
}

export async function run(config: SectionConfig): Promise<SectionResult> {
  const runs = config.runs ?? (config.quick ? 15 : 60);
  if (config.device !== undefined && config.device !== "cpu") return runOnDevice(config, runs);
  const model = await loadModel(config.modelDir ?? defaultBenchModelDir(), {
    verifyChecksums: false,
    ...(config.encoderSessionOptions ? { encoderSessionOptions: config.encoderSessionOptions } : {}),
    ...(config.decoderSessionOptions ? { decoderSessionOptions: config.decoderSessionOptions } : {}),
  });
  try {
    const { perClick, emb } = await clickRun(model, runs);
    const rawRuns = Math.max(10, Math.round(runs / 2));
    const raw = await rawSessionRun(model.decoderPath, config.decoderSessionOptions, emb.data, rawRuns);
    // The same decoder without the in-graph postprocessing of all 4 masks, plus PyTorch-style
    // upscaling of the one chosen mask in JS (docs/inference.md §7: 256 -> 1024, crop, -> 512).
    const lowResOnly = buildSamDecoder(2, { postprocess: false }).bytes;
    const upscaleOne = (out: ort.InferenceSession.ReturnType) => {
      const low = (out["low_res_masks"]!.data as Float32Array).subarray(0, 256 * 256);
      const full = resizeBilinearTorch(low, { height: 256, width: 256 }, { height: 1024, width: 1024 });
      resizeBilinearTorch(full, { height: 1024, width: 1024 }, { height: 512, width: 512 });
    };
    const lowRes = await rawSessionRun(lowResOnly, config.decoderSessionOptions, emb.data, rawRuns, upscaleOne);
    // Threads and spinning: on a busy machine a 2-thread pool whose second thread is descheduled
    // stalls every small op; one thread, or no spin-waiting, may then be the better default.
    const threadRows: Metric[] = [];
    for (const threads of [1, 2]) {
      for (const spin of [true, false]) {
        const options = { ...config.decoderSessionOptions, intraOpNumThreads: threads, extra: { session: { intra_op: { allow_spinning: spin ? "1" : "0" } } } };
        threadRows.push({
          name: `decoder session.run, intraOpNumThreads ${threads}, spinning ${spin ? "on" : "off"}`,
          unit: "ms",
          summary: await rawSessionRun(model.decoderPath, options, emb.data, rawRuns),
        });
      }
    }
    return {
      section: "decoder",
      metrics: [
        ...perClick,
        { name: "decoder session.run alone (1 point, no engine)", unit: "ms", summary: raw },
        {
          name: "same, postprocessing out of the graph: low-res only + JS upscale of the chosen mask",
          unit: "ms",
          summary: lowRes,
          note: "not the ONNX contract",
        },
        ...threadRows,
      ],
    };
  } finally {
    await model.dispose();
  }
}
