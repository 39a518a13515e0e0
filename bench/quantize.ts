/**
 * int8 vs float32 encoder: speed and agreement, on the random-weight encoder with SAM ViT-B's
 * exact graph (models/bench), plus the mask agreement on the trained demo model when it is in
 * the repository. Returns the figures; prints nothing (the runner owns the output).
 *
 *   const figures = await benchQuantize({ runs: 3 });
 *
 * Timings are session.run() of the encoder alone on the same preprocessed image, float32 and
 * int8 alternating (so that a change in machine load hits both), after one warm-up run each;
 * medians. Quality: the engine's embeddings of the sample slice and the masks of a fixed prompt
 * set with the benchmark's (fixed, random-weight) decoder. Random weights are not MedicoSAM's:
 * real weights have other activation ranges, so `medicosam quantize --check` on the real export
 * is the check that counts for a user.
 */
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import { readImage } from "../kernel/io/read-image.js";
import { compareModelsSequentially } from "../kernel/onnx/quantize-check.js";
import { quantizeModelFolder } from "../kernel/onnx/quantize-folder.js";
import { quantizeModel, type QuantizeReport } from "../kernel/onnx/quantize.js";
import { packageRoot } from "../kernel/package-root.js";
import { loadModel } from "../kernel/sam/model.js";
import { samSessionOptions } from "../kernel/sam/session-options.js";
import { defaultBenchModelDir, ensureBenchModel } from "../models/bench/generate.js";
import { summarize } from "./stats.js";

export interface BenchQuantizeOptions {
  /** Timed encoder runs per precision (after one warm-up each). Default 3. */
  readonly runs?: number;
  /** Skip the demo-model part. */
  readonly skipDemo?: boolean;
}

/** Bump when quantize.ts changes what it writes, so the cached int8 file is rebuilt. */
const QUANTIZER_VERSION = 1;

/** CPU features that decide what int8 gains: VNNI does u8 x s8 dot products in one instruction. */
export function cpuFeatures(): { model: string; vnni: boolean; flags: string[] } {
  let flags: string[] = [];
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const line = info.split("\n").find((l) => l.startsWith("flags")) ?? "";
    const all = new Set(line.split(":")[1]?.trim().split(/\s+/) ?? []);
    flags = ["avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8"].filter((f) => all.has(f));
  } catch {
    // not Linux: flags unknown
  }
  return { model: cpus()[0]?.model ?? "unknown", vnni: flags.some((f) => /vnni|amx/.test(f)), flags };
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The int8 encoder of the benchmark model, made once and cached beside it (keyed by the float32 file). */
function int8BenchEncoder(fp32Path: string): { path: string; report?: QuantizeReport; quantizeSeconds?: number; cached: boolean } {
  const dir = join(dirname(defaultBenchModelDir()), "vit-b-random-int8");
  const path = join(dir, "encoder.int8.onnx");
  const stampPath = join(dir, "stamp.json");
  const input = readFileSync(fp32Path);
  const stamp = JSON.stringify({ from: sha256(input), quantizer: QUANTIZER_VERSION });
  if (existsSync(path) && existsSync(stampPath) && readFileSync(stampPath, "utf8") === stamp) return { path, cached: true };
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  const { bytes, report } = quantizeModel(input);
  const quantizeSeconds = (performance.now() - t0) / 1000;
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
  writeFileSync(stampPath, stamp);
  return { path, report, quantizeSeconds, cached: false };
}

/** A deterministic normalized input of the encoder's shape (values in SAM's normalized range). */
function encoderInput(): ort.Tensor {
  const n = 3 * 1024 * 1024;
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32) * 4 - 2;
  }
  return new ort.Tensor("float32", data, [1, 3, 1024, 1024]);
}

async function timeEncoders(fp32Path: string, int8Path: string, runs: number) {
  const options = samSessionOptions();
  const x = encoderInput();
  const fp32 = await ort.InferenceSession.create(fp32Path, options);
  const int8 = await ort.InferenceSession.create(int8Path, options);
  try {
    const feeds32 = { [fp32.inputNames[0]!]: x };
    const feeds8 = { [int8.inputNames[0]!]: x };
    await fp32.run(feeds32);
    await int8.run(feeds8);
    const t32: number[] = [];
    const t8: number[] = [];
    const c32: number[] = [];
    const c8: number[] = [];
    /** Wall time and this process's CPU time (all threads) of one run. */
    const timed = async (run: () => Promise<unknown>, wall: number[], cpu: number[]) => {
      const c = process.cpuUsage();
      const t = performance.now();
      await run();
      wall.push(performance.now() - t);
      const d = process.cpuUsage(c);
      cpu.push((d.user + d.system) / 1000);
    };
    for (let i = 0; i < runs; i++) {
      await timed(() => fp32.run(feeds32), t32, c32);
      await timed(() => int8.run(feeds8), t8, c8);
    }
    return { fp32: summarize(t32), int8: summarize(t8), cpu: { fp32: summarize(c32), int8: summarize(c8) } };
  } finally {
    await Promise.all([fp32.release(), int8.release()]);
  }
}

async function demoAgreement(): Promise<Record<string, unknown>> {
  const demo = join(packageRoot(), "models", "demo");
  if (!existsSync(join(demo, "model.json"))) return { skipped: "models/demo is not in the repository yet" };
  const copy = join(tmpdir(), `bench-quantize-demo-${process.pid}`);
  cpSync(demo, copy, { recursive: true });
  try {
    let q;
    try {
      q = await quantizeModelFolder(copy);
    } catch (err) {
      return { skipped: `int8 does not apply: ${(err as Error).message.split("\n")[0]}` };
    }
    const image = await readImage(join(packageRoot(), "data", "phantom-slice.png"));
    const c = await compareModelsSequentially(() => loadModel(copy), () => loadModel(copy, { precision: "int8" }), image);
    return {
      matmulsQuantized: q.report.quantized,
      matmuls: q.report.matmuls,
      weak: q.report.quantized < 4 ? "few MatMuls are quantized in this conv-based encoder: a weak check" : undefined,
      embeddingRelativeError: c.embedding.relative,
      maskIouMin: c.minIou,
      maskIouMean: c.meanIou,
      prompts: c.prompts.length,
      pass: c.minIou >= 0.95,
    };
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

export async function benchQuantize(options: BenchQuantizeOptions = {}): Promise<Record<string, unknown>> {
  const runs = options.runs ?? 3;
  const cpu = cpuFeatures();
  const gen = ensureBenchModel();
  const manifest = JSON.parse(readFileSync(join(gen.dir, "model.json"), "utf8")) as { encoder: { file: string }; decoder: { file: string } };
  const fp32Path = join(gen.dir, manifest.encoder.file);
  const decoderPath = join(gen.dir, manifest.decoder.file);
  const q = int8BenchEncoder(fp32Path);
  const times = await timeEncoders(fp32Path, q.path, runs);
  const speedup = times.fp32.median / times.int8.median;

  const image = await readImage(join(packageRoot(), "data", "phantom-slice.png"));
  const agreement = await compareModelsSequentially(
    () => loadModel({ encoder: fp32Path, decoder: decoderPath }, { verifyChecksums: false }),
    () => loadModel({ encoder: q.path, decoder: decoderPath }, { verifyChecksums: false }),
    image,
  );

  const demo = options.skipDemo ? { skipped: "skipDemo" } : await demoAgreement();
  return {
    cpu,
    expectation: cpu.vnni
      ? "this CPU has VNNI (AVX-512 VNNI / AVX-VNNI): int8 u8 x s8 dot products run in one instruction; a 2-3x encoder speedup is expected"
      : "this CPU has no VNNI: int8 gains little (or loses) and --reduce-range may be needed for accuracy; keep float32",
    vitB: {
      model: `${gen.dir} (random weights, SAM ViT-B graph)`,
      method: "dynamic int8, per-column symmetric weight scales, per-tensor uint8 activations; attention and convolutions stay float32",
      quantize: q.report
        ? { seconds: q.quantizeSeconds, quantized: q.report.quantized, matmuls: q.report.matmuls, mbIn: q.report.bytesIn / 1e6, mbOut: q.report.bytesOut / 1e6 }
        : { cached: true },
      encoderMs: { fp32: times.fp32, int8: times.int8 },
      // CPU time is less disturbed than wall time when other work shares the cores (onnxruntime's
      // spinning threads count in both), so it is the second opinion on a busy machine.
      encoderCpuMs: times.cpu,
      speedup,
      cpuTimeRatio: times.cpu.fp32.median / times.cpu.int8.median,
      loadAverage: loadavg()[0],
      speedupTarget: 2,
      speedupPass: speedup >= 2,
      embeddingRelativeError: agreement.embedding.relative,
      maskIouMin: agreement.minIou,
      maskIouMean: agreement.meanIou,
      prompts: agreement.prompts.length,
      emptyReferenceMasks: agreement.prompts.filter((p) => p.area === 0).length,
      maskIouPass: agreement.minIou >= 0.95,
    },
    demo,
  };
}
