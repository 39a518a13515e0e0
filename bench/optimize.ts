/**
 * The encoder as `medicosam optimize` rewrites it against the encoder as exported, side by side
 * in one run on the same model folder: the random-weight ViT-B of models/bench, or `--model`
 * (a folder holding an official segment_anything export, say). Returns the figures; prints
 * nothing (the runner owns the output).
 *
 * 1. The rewrite, made on first use and cached in the folder (bench/optimized-encoder.ts), and
 *    the largest output difference its equivalence check measured.
 * 2. Raw onnxruntime-node, both files in this process with `encoderSessionOptions("fp32")`: one warm-up
 *    each, then the two alternating (ABBA...) so that a change in the machine's load hits both;
 *    wall and CPU time of session.run on the preprocessed phantom slice, and the ratio of the
 *    medians (target 0.85: the "embedding <= 0.85x raw onnxruntime-node").
 * 3. The peak RSS of a process holding one session and running it twice, one process per file.
 * 4. The engine as users run it, `loadModel(folder)` against `loadModel(folder, { optimized:
 *    false })`, one process each: embed() of the phantom slice twice, the second call's wall
 *    time, and the peak of the kernel process plus that of its encoder process.
 */
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { readImage } from "../kernel/io/read-image.js";
import { NotAnEncoderError } from "../kernel/onnx/optimize/optimize-encoder.js";
import { DEFAULT_TOLERANCE } from "../kernel/onnx/optimize/verify-equivalence.js";
import type { ModelManifest } from "../kernel/sam/manifest.js";
import { encoderSessionOptions } from "../kernel/sam/session-options.js";
import { defaultBenchModelDir, ensureBenchModel } from "../models/bench/generate.js";
import { ensureOptimizedEncoder, type OptimizedEncoder } from "./optimized-encoder.js";
import { encoderInput, PHANTOM_SLICE, runProbe, type EngineProbeResult, type RawProbeResult } from "./optimize-probe.js";
import { cpuFeatures } from "./quantize.js";
import { PEAK_RSS_TARGET_MB } from "./sections/encoder.js";
import { summarize, type Summary } from "./stats.js";
import type { Metric, SectionResult } from "./types.js";

export interface BenchOptimizeOptions {
  /** 2 alternating runs per file instead of 5. */
  readonly quick?: boolean;
  /** Alternating timed runs per file (after one warm-up each); overrides `quick`. */
  readonly runs?: number;
  /** A model folder instead of the random-weight ViT-B; its optimized encoder is written into it. */
  readonly model?: string;
}

/** The target: the optimized encoder's session.run at most this share of the original's. */
export const OPTIMIZED_RATIO_TARGET = 0.85;
/** Runs per process of the peak-memory probes: the second run shows any growth after the first. */
const MEMORY_PROBE_RUNS = 2;
/** embed() calls per engine process; the second is timed (the first pays the session's first run). */
const ENGINE_EMBEDS = 2;

type Version = "original" | "optimized";
const VERSIONS: readonly Version[] = ["original", "optimized"];

interface RawTimings {
  readonly wallMs: Record<Version, number[]>;
  readonly cpuMs: Record<Version, number[]>;
  readonly order: Version[];
}

/** Both encoders in this process, warmed up, then alternating ABBA... `runs` times each. */
async function rawTimings(enc: OptimizedEncoder, manifest: ModelManifest, runs: number): Promise<RawTimings> {
  const x = encoderInput(manifest, await readImage(PHANTOM_SLICE));
  const sessions = {
    original: await ort.InferenceSession.create(enc.originalPath, encoderSessionOptions("fp32")),
    optimized: await ort.InferenceSession.create(enc.optimizedPath, encoderSessionOptions("fp32")),
  };
  const wallMs: Record<Version, number[]> = { original: [], optimized: [] };
  const cpuMs: Record<Version, number[]> = { original: [], optimized: [] };
  const order: Version[] = [];
  try {
    const run = (v: Version) => sessions[v].run({ [sessions[v].inputNames[0]!]: x });
    for (const v of VERSIONS) await run(v);
    for (let round = 0; round < runs; round++) {
      for (const v of round % 2 === 0 ? VERSIONS : [...VERSIONS].reverse()) {
        const c = process.cpuUsage();
        const t = performance.now();
        await run(v);
        wallMs[v].push(performance.now() - t);
        const d = process.cpuUsage(c);
        cpuMs[v].push((d.user + d.system) / 1000);
        order.push(v);
      }
    }
  } finally {
    await Promise.all([sessions.original.release(), sessions.optimized.release()]);
  }
  return { wallMs, cpuMs, order };
}

async function probes<R>(kind: "raw" | "engine", folder: string, runs: number): Promise<Record<Version, R>> {
  // One after the other, never side by side: the original ViT-B alone peaks near 4 GB.
  const original = (await runProbe({ kind, folder, optimized: false, runs })) as R;
  const optimized = (await runProbe({ kind, folder, optimized: true, runs })) as R;
  return { original, optimized };
}

/** "original: <figure>", "optimized: <figure>": the options matrix's way of naming rows. */
function pair(figure: string, unit: string, of: (v: Version) => { summary?: Summary; value?: number }, target?: Metric["target"]): Metric[] {
  return VERSIONS.map((v) => ({ name: `${v}: ${figure}`, unit, ...of(v), ...(v === "optimized" && target ? { target } : {}) }));
}

function ratioRow(figure: string, original: number, optimized: number, target?: Metric["target"]): Metric {
  return { name: `optimized / original: ${figure}`, unit: "x", value: optimized / original, ...(target ? { target } : {}) };
}

export async function benchOptimize(options: BenchOptimizeOptions = {}): Promise<SectionResult> {
  const runs = options.runs ?? (options.quick ? 2 : 5);
  const load0 = loadavg();
  const folder = options.model ?? ensureBenchModel(defaultBenchModelDir()).dir;
  let enc: OptimizedEncoder;
  try {
    enc = await ensureOptimizedEncoder(folder);
  } catch (err) {
    // A model the optimizer does not know (the demo's conv encoder) has nothing to compare.
    if (err instanceof NotAnEncoderError) return { section: "optimize", metrics: [{ name: `skipped: ${folder}: ${err.message.split("\n")[0]}`, unit: "" }] };
    throw err;
  }
  const manifest = JSON.parse(readFileSync(join(enc.folder, "model.json"), "utf8")) as ModelManifest;

  const raw = await rawTimings(enc, manifest, runs);
  const wall = { original: summarize(raw.wallMs.original), optimized: summarize(raw.wallMs.optimized) };
  const cpu = { original: summarize(raw.cpuMs.original), optimized: summarize(raw.cpuMs.optimized) };
  const loadAfterTimings = loadavg()[0]!;
  const memory = await probes<RawProbeResult>("raw", enc.folder, MEMORY_PROBE_RUNS);
  const engine = await probes<EngineProbeResult>("engine", enc.folder, ENGINE_EMBEDS);
  for (const v of VERSIONS) {
    const expected = v === "optimized" ? enc.optimizedPath : enc.originalPath;
    if (engine[v].encoderPath !== expected) {
      throw new Error(`loadModel(${v === "optimized" ? "" : "{ optimized: false }"}) ran ${engine[v].encoderPath}, not ${expected}: ${engine[v].notices.join("; ")}`);
    }
  }
  const second = (r: EngineProbeResult) => r.embedMs[ENGINE_EMBEDS - 1]!;
  const secondRun = (r: EngineProbeResult) => r.sessionRunMs[ENGINE_EMBEDS - 1]!;
  const cpu0 = cpuFeatures();
  const load1 = loadavg();

  const metrics: Metric[] = [
    {
      name: `model: ${manifest.name} (${enc.folder})`,
      unit: "",
      note: enc.madeSeconds === undefined ? "optimized encoder cached in model.json" : `optimized encoder made now in ${enc.madeSeconds.toFixed(0)} s`,
    },
    ...(enc.maxAbsDiff === undefined
      ? [{ name: "rewrite: largest output difference vs original (not recorded: made with --no-verify)", unit: "" }]
      : [{ name: "rewrite: largest output difference vs original (random + real image)", unit: "", value: enc.maxAbsDiff, target: { max: DEFAULT_TOLERANCE, text: `<= ${DEFAULT_TOLERANCE}` } }]),
    ...pair(`raw onnxruntime-node session.run, ${runs} alternating runs`, "ms", (v) => ({ summary: wall[v] })),
    ratioRow("raw session.run (medians)", wall.original.median, wall.optimized.median, {
      max: OPTIMIZED_RATIO_TARGET,
      text: `<= ${OPTIMIZED_RATIO_TARGET}x`,
    }),
    ...pair("raw session.run CPU time, all threads", "ms", (v) => ({ summary: cpu[v] })),
    ratioRow("raw session.run CPU time (medians)", cpu.original.median, cpu.optimized.median),
    ...pair(`peak RSS, one session + ${MEMORY_PROBE_RUNS} runs, own process`, "MB", (v) => ({ value: memory[v].peakRssMB })),
    ratioRow("peak RSS, raw session", memory.original.peakRssMB, memory.optimized.peakRssMB),
    ...pair("engine: embed() of phantom-slice.png, 2nd call, wall", "ms", (v) => ({ value: second(engine[v]) })),
    ...pair("engine:   of which encoder session.run", "ms", (v) => ({ value: secondRun(engine[v]) })),
    ratioRow("engine embed() wall", second(engine.original), second(engine.optimized)),
    ...pair(
      `engine: peak RSS, kernel + encoder process, load + ${ENGINE_EMBEDS} embed()`,
      "MB",
      (v) => ({ value: engine[v].peakRssMB }),
      { max: PEAK_RSS_TARGET_MB, text: `< ${PEAK_RSS_TARGET_MB} MB` },
    ),
    ratioRow("engine peak RSS", engine.original.peakRssMB, engine.optimized.peakRssMB),
    { name: `CPU: ${cpu0.model}, ${cpus().length} cores; flags: ${cpu0.flags.join(" ") || "unknown"}`, unit: "" },
    { name: "load average (1 min) at start of section", unit: "", value: load0[0]! },
    { name: "load average (1 min) at end of section", unit: "", value: load1[0]! },
  ];
  return {
    section: "optimize",
    metrics,
    details: {
      folder: enc.folder,
      originalEncoder: enc.originalPath,
      optimizedEncoder: enc.optimizedPath,
      method: enc.method,
      maxAbsDiff: enc.maxAbsDiff,
      madeSeconds: enc.madeSeconds,
      raw: { runs, order: raw.order, wallMs: raw.wallMs, cpuMs: raw.cpuMs, wall, cpu },
      memory,
      engine,
      cpu: cpu0,
      loadAverage: { start: load0, afterTimings: loadAfterTimings, end: load1 },
    },
  };
}
