/**
 * Benchmark of the analysis code (no model needed; onnxruntime does the covariance products):
 * PCA of one embedding and of a 100-slice stack (streaming covariance + ml-pca's decomposition);
 * cosine similarity; one round of the simulated interactive protocol per object, excluding the
 * decoder (a stand-in engine answers instantly); the pictures' PNG encoding.
 *
 * Embeddings are synthetic but shaped like real ones: 256 channels driven by 12 latent factors
 * with decaying variances plus noise, so the fit faces a realistic spectrum.
 *
 * `benchAnalysis()` prints nothing and returns a SectionResult-shaped record
 * ({ section, metrics, details }) for bench/run.ts.
 */
import { loadavg } from "node:os";
import { extractObjects } from "../kernel/analysis/objects.js";
import { pcaRgbImages } from "../kernel/analysis/pca-image.js";
import { fitPca, projectEmbedding } from "../kernel/analysis/pca.js";
import { evaluateObjects } from "../kernel/evaluation/protocol-image.js";
import type { ProtocolEngine } from "../kernel/evaluation/protocol.js";
import { SeededRandom } from "../kernel/analysis/rng.js";
import { cosineSimilarityAt } from "../kernel/analysis/similarity.js";
import { encodeRgbPng } from "../kernel/display/png.js";
import { drawOverlay } from "../kernel/display/overlay.js";
import type { Embedding } from "../kernel/sam/embedding.js";
import type { SegmentResult } from "../kernel/sam/segment-result.js";
import { summarize, timeRuns, type Summary } from "./stats.js";
import type { Metric, SectionResult } from "./types.js";

const PLANE = 4096;
const FACTORS = 12;

function syntheticStack(count: number, seed: number): Embedding[] {
  const rng = new SeededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rng.next() || 1e-300)) * Math.cos(2 * Math.PI * rng.next());
  const loadings = Array.from({ length: FACTORS }, () => Float32Array.from({ length: 256 }, gauss));
  const out: Embedding[] = [];
  for (let s = 0; s < count; s++) {
    const data = new Float32Array(256 * PLANE);
    for (let t = 0; t < PLANE; t++) {
      const a = Array.from({ length: FACTORS }, (_, f) => gauss() * 0.8 ** f);
      for (let c = 0; c < 256; c++) {
        let v = 0.05 * gauss();
        for (let f = 0; f < FACTORS; f++) v += a[f]! * loadings[f]![c]!;
        data[c * PLANE + t] = v;
      }
    }
    out.push({ data, originalSize: { height: 512, width: 512 }, resizedSize: { height: 1024, width: 1024 }, modelName: "synthetic", key: `s${s}` });
  }
  return out;
}

/** 512x512 label map with `n` disc-shaped objects of two classes. */
function labelMap(n: number): { width: number; height: number; data: Uint8Array } {
  const width = 512;
  const height = 512;
  const data = new Uint8Array(width * height);
  for (let k = 0; k < n; k++) {
    const cx = 60 + (k % 4) * 120;
    const cy = 60 + Math.floor(k / 4) * 120;
    for (let y = cy - 40; y <= cy + 40; y++) for (let x = cx - 40; x <= cx + 40; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= 1600) data[y * width + x] = 1 + (k % 2);
  }
  return { width, height, data };
}

/** Median CPU time (user + system, all threads of this process) of `runs` calls, in ms. */
async function medianCpuMs(f: () => Promise<unknown>, runs: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const before = process.cpuUsage();
    await f();
    const used = process.cpuUsage(before);
    samples.push((used.user + used.system) / 1000);
  }
  return summarize(samples).median;
}

const metric = (name: string, summary: Summary, target?: { max: number; text: string }, note?: string): Metric => ({
  name,
  unit: "ms",
  summary,
  ...(target ? { target } : {}),
  ...(note ? { note } : {}),
});

export async function benchAnalysis(options: { quick?: boolean } = {}): Promise<Record<string, unknown>> {
  const runs = options.quick ? 3 : 7;
  const stack = syntheticStack(100, 1);
  const one = stack[0]!;
  const metrics: Metric[] = [];
  const details: Record<string, unknown> = {};

  metrics.push(
    metric("PCA, one slice: fit (streaming covariance + ml-pca decomposition)", await timeRuns(() => fitPca(one), { warmup: 2, runs })),
  );
  const basis = await fitPca(one);
  details.oneSliceExplainedVariance = basis.explainedVarianceRatio;
  const onePicture = async () => pcaRgbImages([projectEmbedding(await fitPca(one), one)]);
  metrics.push(metric("PCA, one slice: fit + project + RGB picture", await timeRuns(onePicture, { warmup: 1, runs }), { max: 300, text: "under 300 ms" }));
  // The PCA is single-threaded JavaScript but for the covariance products: on a shared machine
  // its process CPU time is the figure that does not depend on the neighbours.
  details.onePictureCpuMs = await medianCpuMs(onePicture, runs);

  let fitMs = 0;
  let projectMs = 0;
  let imagesMs = 0;
  const cpuMs: number[] = [];
  const total = await timeRuns(
    async () => {
      const cpu = process.cpuUsage();
      let t = performance.now();
      const b = await fitPca(stack);
      fitMs = performance.now() - t;
      t = performance.now();
      const projections = stack.map((e) => projectEmbedding(b, e));
      projectMs = performance.now() - t;
      t = performance.now();
      pcaRgbImages(projections);
      imagesMs = performance.now() - t;
      const used = process.cpuUsage(cpu);
      cpuMs.push((used.user + used.system) / 1000);
    },
    { warmup: 0, runs: options.quick ? 1 : 3 },
  );
  metrics.push(metric("PCA, 100 slices: fit on a 32768-token sample + project all + 100 RGB pictures", total, { max: 10_000, text: "under 10 s" }));
  details.hundredSlices = { fitMs, projectMs, imagesMs, cpuMsMedian: summarize(cpuMs).median };

  metrics.push(metric("cosine similarity map, one click", await timeRuns(() => cosineSimilarityAt(one, 100, 200), { warmup: 2, runs })));

  // One protocol round per object without the decoder: correction sampling, Dice, class union.
  const labels = labelMap(16);
  const { objects } = extractObjects(labels);
  const fixed = new Uint8Array(labels.width * labels.height);
  for (let i = 0; i < fixed.length; i++) fixed[i] = labels.data[i] && i % 7 ? 1 : 0;
  const instant: ProtocolEngine = {
    async segment(): Promise<SegmentResult> {
      return { width: 512, height: 512, mask: fixed, logits: new Float32Array(0), iou: 1, token: 0, ious: [1], lowResLogits: new Float32Array(65536), candidates: [] };
    },
  };
  const embedding: Embedding = { ...one, originalSize: { height: 512, width: 512 } };
  const protocol = await timeRuns(() => evaluateObjects(instant, embedding, objects, { start: "point", seed: 0 }), { warmup: 1, runs });
  const perRound = (s: number) => s / (objects.length * 8);
  metrics.push({
    name: "protocol: one round per object, decoder excluded (512x512 image)",
    unit: "ms",
    summary: { ...protocol, median: perRound(protocol.median), p95: perRound(protocol.p95), min: perRound(protocol.min), max: perRound(protocol.max) },
    note: `${objects.length} objects x 8 rounds per run`,
  });
  metrics.push(metric("object extraction (16 objects, 512x512)", await timeRuns(() => extractObjects(labels), { warmup: 1, runs })));

  const base = { width: 512, height: 512, data: new Uint8Array(512 * 512 * 3).fill(90) };
  const overlay = drawOverlay(base, [{ mask: fixed, label: 1 }]);
  metrics.push(metric("overlay + PNG encoding, 512x512", await timeRuns(() => encodeRgbPng(drawOverlay(base, [{ mask: fixed, label: 1 }])), { warmup: 2, runs })));
  details.overlayBytes = (await encodeRgbPng(overlay)).length;

  // The machine is shared: the 1-minute load average says how much to trust the medians (the
  // minimum of each summary is the least disturbed run).
  details.loadAverage = loadavg()[0];
  const result: SectionResult = { section: "analysis", metrics, details };
  return result as unknown as Record<string, unknown>;
}
