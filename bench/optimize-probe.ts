/**
 * One encoder of a model folder, original or optimized, measured in a Node process of its own
 * (bench/optimize.ts forks this file once per encoder and kind): a process's peak RSS (VmHWM)
 * only ever grows, so two encoders measured in one process would share one peak.
 *
 * - `raw`: an onnxruntime-node session of the encoder file with `encoderSessionOptions("fp32")`, run on
 *   the preprocessed phantom slice; the peak of this process.
 * - `engine`: `loadModel(folder, { optimized })` as a user runs it, embed() of the phantom
 *   slice twice; the peak of this (kernel) process plus that of the encoder process.
 */
import { fork } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { toRgb8 } from "../kernel/intensity/normalize.js";
import { readImage } from "../kernel/io/read-image.js";
import { packageRoot } from "../kernel/package-root.js";
import type { ModelManifest } from "../kernel/sam/manifest.js";
import { resolveModel } from "../kernel/sam/model-files.js";
import { loadModel } from "../kernel/sam/model.js";
import { preprocess } from "../kernel/sam/preprocess.js";
import { encoderSessionOptions } from "../kernel/sam/session-options.js";
import { MiB, peakRssBytes } from "./memory.js";

/** The image every figure of the optimize section is taken on (shipped with the package). */
export const PHANTOM_SLICE = resolve(packageRoot(), "data", "phantom-slice.png");

export interface ProbeRequest {
  readonly kind: "raw" | "engine";
  readonly folder: string;
  readonly optimized: boolean;
  /** Encoder runs (raw) or embed() calls (engine). */
  readonly runs: number;
}

export interface RawProbeResult {
  readonly kind: "raw";
  readonly encoderPath: string;
  readonly runMs: number[];
  /** VmHWM of the process: Node, the session, its runs. */
  readonly peakRssMB: number;
}

export interface EngineProbeResult {
  readonly kind: "engine";
  readonly encoderPath: string;
  /** Wall time of each embed() call; the first includes the session's first-run cost. */
  readonly embedMs: number[];
  /** The encoder process's session.run of each call (model.timings.encoderMs). */
  readonly sessionRunMs: number[];
  /** VmHWM of the kernel process + VmHWM of the encoder process, over the whole process life. */
  readonly peakRssMB: number;
  readonly kernelPeakRssMB: number;
  /** What loadModel said (a stale or missing optimized encoder, ...). */
  readonly notices: string[];
}

export type ProbeResult = RawProbeResult | EngineProbeResult;

/** The encoder's input for `image`, preprocessed as model.json says (SAM's defaults otherwise). */
export function encoderInput(manifest: ModelManifest, image: Awaited<ReturnType<typeof readImage>>): ort.Tensor {
  const pre = manifest.preprocessing ?? {};
  const p = preprocess(toRgb8(image, pre.intensity), {
    ...(pre.imageSize ? { imageSize: pre.imageSize } : {}),
    ...(pre.pixelMean ? { pixelMean: pre.pixelMean } : {}),
    ...(pre.pixelStd ? { pixelStd: pre.pixelStd } : {}),
  });
  const side = Math.round(Math.sqrt(p.tensor.length / 3));
  return new ort.Tensor("float32", p.tensor, [1, 3, side, side]);
}

async function rawProbe(req: ProbeRequest): Promise<RawProbeResult> {
  const files = await resolveModel(req.folder, { verifyChecksums: false, optimized: req.optimized });
  const x = encoderInput(files.manifest, await readImage(PHANTOM_SLICE));
  const session = await ort.InferenceSession.create(files.encoderPath, encoderSessionOptions("fp32"));
  try {
    const feeds = { [session.inputNames[0]!]: x };
    const runMs: number[] = [];
    for (let i = 0; i < req.runs; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      runMs.push(performance.now() - t0);
    }
    const peak = peakRssBytes();
    if (peak === undefined) throw new Error("no VmHWM in /proc/self/status: the peak memory probe needs Linux");
    return { kind: "raw", encoderPath: files.encoderPath, runMs, peakRssMB: peak / MiB };
  } finally {
    await session.release();
  }
}

async function engineProbe(req: ProbeRequest): Promise<EngineProbeResult> {
  const notices: string[] = [];
  const model = await loadModel(req.folder, { optimized: req.optimized, onNotice: (line) => notices.push(line) });
  try {
    const image = await readImage(PHANTOM_SLICE);
    const children = (): number[] => (model.encoderProcessId === undefined ? [] : [model.encoderProcessId]);
    const embedMs: number[] = [];
    const sessionRunMs: number[] = [];
    for (let i = 0; i < req.runs; i++) {
      const t0 = performance.now();
      // Not cached: the second call must run the encoder again, not find the first result.
      await model.embed(image, { cache: false });
      embedMs.push(performance.now() - t0);
      sessionRunMs.push(model.timings.encoderMs ?? NaN);
    }
    // Read before dispose(): the encoder process's counter leaves with it.
    const peak = peakRssBytes(children());
    const kernelPeak = peakRssBytes();
    if (peak === undefined || kernelPeak === undefined) throw new Error("no VmHWM in /proc/self/status: the peak memory probe needs Linux");
    return { kind: "engine", encoderPath: model.encoderPath, embedMs, sessionRunMs, peakRssMB: peak / MiB, kernelPeakRssMB: kernelPeak / MiB, notices };
  } finally {
    await model.dispose();
  }
}

/** Runs `req` in a fresh Node process (this file) and returns what it measured. */
export function runProbe(req: ProbeRequest): Promise<ProbeResult> {
  const self = fileURLToPath(import.meta.url);
  const execArgv = self.endsWith(".ts") ? ["--import", "tsx"] : [];
  return new Promise((resolvePromise, reject) => {
    const child = fork(self, ["--probe", JSON.stringify(req)], { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let settled = false;
    const finish = (err: Error | undefined, result?: ProbeResult) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolvePromise(result!);
    };
    const what = `${req.kind} probe of the ${req.optimized ? "optimized" : "original"} encoder`;
    child.on("message", (msg: { ok: boolean; result?: ProbeResult; error?: string }) => {
      if (msg.ok && msg.result) finish(undefined, msg.result);
      else finish(new Error(`${what}: ${msg.error ?? "failed without a message"}`));
    });
    child.on("exit", (code, signal) => {
      finish(new Error(`${what}: the process exited (code ${code}, signal ${signal}) before reporting${signal === "SIGKILL" ? ", most likely out of memory" : ""}`));
    });
    child.on("error", (err) => finish(err));
  });
}

async function probeMain(json: string): Promise<void> {
  // The parent gone (its section timed out and was killed): nobody is waiting for the figures.
  const parentGone = (): never => process.exit(1);
  process.on("disconnect", parentGone);
  const reply = (msg: { ok: boolean; result?: ProbeResult; error?: string }) => {
    process.off("disconnect", parentGone);
    // Disconnecting lets the process exit: an open IPC channel keeps its event loop alive.
    process.send!(msg, () => process.disconnect());
  };
  const req = JSON.parse(json) as ProbeRequest;
  try {
    reply({ ok: true, result: req.kind === "raw" ? await rawProbe(req) : await engineProbe(req) });
  } catch (err) {
    process.exitCode = 1;
    reply({ ok: false, error: err instanceof Error ? err.message : String(err) });
  }
}

const invokedAsProbe = process.argv[2] === "--probe" && process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedAsProbe) void probeMain(process.argv[3] ?? "{}");
