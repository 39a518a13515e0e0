/**
 * The encoder per image through the engine's embed() (preprocessing + encoder in the encoder
 * process), with the peak memory of the kernel and the encoder process during encoding and the cost of the clicks that follow
 * an encoding. Also used, with other session options, for the options matrix: one child process
 * per variant, so that peaks and allocator state never leak from one variant into the next.
 */
import { basename } from "node:path";
import { loadModel } from "../../kernel/sam/model.js";
import { defaultBenchModelDir } from "../../models/bench/generate.js";
import { grayImage8, variant } from "../images.js";
import { cpuMs, MiB, peakRssBytes, resetPeakRss, rssBytes, sampleRss } from "../memory.js";
import { summarize } from "../stats.js";
import type { Metric, SectionConfig, SectionResult } from "../types.js";
import { clickSequence, DECODER_TARGET_MS } from "./decoder.js";
import { agreementMetrics, emptyOutputs, type RunOutputs } from "./device-agreement.js";
import type { Image2D } from "../../kernel/io/image.js";
import type { Prompt } from "../../kernel/sam/prompt.js";

export const PEAK_RSS_TARGET_MB = 1536;
const CLICKS_AFTER_ENCODE = 5;

function checkEmbedding(data: Float32Array): void {
  if (data.length !== 256 * 64 * 64) throw new Error(`embedding has ${data.length} values; expected 256*64*64`);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new Error(`embedding value ${i} is ${data[i]}: the benchmark model overflowed; regenerate it (models/bench/generate.ts --force)`);
  }
}

/** The images and clicks of the timed runs again, on a CPU model: what `--device` is compared with. */
async function cpuOutputs(config: SectionConfig, images: readonly Image2D[], clicks: readonly Prompt[]): Promise<RunOutputs> {
  const model = await loadModel(config.modelDir ?? defaultBenchModelDir(), { device: "cpu", verifyChecksums: false });
  const out = emptyOutputs();
  try {
    for (const image of images) {
      const emb = await model.embed(image);
      out.embeddings.push(emb.data);
      for (const prompt of clicks) {
        const r = await model.segment(emb, prompt);
        out.masks.push(r.mask);
        out.tokens.push(r.token);
        out.ious.push(r.iou);
      }
    }
  } finally {
    await model.dispose();
  }
  return out;
}

export async function run(config: SectionConfig): Promise<SectionResult> {
  const runs = config.runs ?? (config.quick ? 2 : 3);
  const device = config.device ?? "cpu";
  const rssStart = rssBytes();
  const t0 = performance.now();
  const model = await loadModel(config.modelDir ?? defaultBenchModelDir(), {
    device,
    ...(config.encoderSessionOptions ? { encoderSessionOptions: config.encoderSessionOptions } : {}),
    ...(config.decoderSessionOptions ? { decoderSessionOptions: config.decoderSessionOptions } : {}),
  });
  const devices = model.devices;
  const onDevice = emptyOutputs();
  const timedImages: Image2D[] = [];
  const loadS = (performance.now() - t0) / 1000;
  const rssLoaded = rssBytes();
  let result: SectionResult;
  let cpuCheck: { clicks: Prompt[]; metrics: Metric[] } | undefined;
  try {
    const image = grayImage8();
    const clicks = clickSequence(CLICKS_AFTER_ENCODE, 512, 9);

    // Warm-up: the first run of a session is about twice as slow (allocation, kernel choice).
    const warm = await model.embed(variant(image, 0));
    checkEmbedding(warm.data);
    for (const c of clicks) await model.segment(warm, c.prompt);
    const rssWarm = rssBytes();

    // The encoder runs in a child process: its memory and CPU time count with the kernel's.
    const children = (): number[] => (model.encoderProcessId === undefined ? [] : [model.encoderProcessId]);
    const rssWarmAll = rssBytes(children());
    const peakReset = resetPeakRss(children());
    const wall: number[] = [];
    const session: number[] = [];
    const workerPre: number[] = [];
    const after: number[] = [];
    const cpu: number[] = [];
    let sampledPeak = 0;
    for (let i = 1; i <= runs; i++) {
      const t1 = performance.now();
      const c1 = cpuMs(children());
      const input = variant(image, i);
      const { result: emb, maxSampled } = await sampleRss(() => model.embed(input), 25, children());
      wall.push(performance.now() - t1);
      cpu.push(cpuMs(children()) - c1);
      sampledPeak = Math.max(sampledPeak, maxSampled);
      checkEmbedding(emb.data);
      session.push(model.timings.encoderMs ?? NaN);
      workerPre.push(model.timings.preprocessMs ?? NaN);
      for (const c of clicks) {
        const t2 = performance.now();
        const r = await model.segment(emb, c.prompt);
        after.push(performance.now() - t2);
        if (device !== "cpu") {
          onDevice.masks.push(r.mask);
          onDevice.tokens.push(r.token);
          onDevice.ious.push(r.iou);
        }
      }
      if (device !== "cpu") {
        onDevice.embeddings.push(emb.data);
        timedImages.push(input);
      }
    }
    const peak = peakRssBytes(children());
    const encMedian = summarize(session).median;
    const wallMedian = summarize(wall).median;
    const label = config.label ? ` [${config.label}]` : device !== "cpu" ? ` [encoder on ${devices.encoder}]` : "";
    const metrics: Metric[] = [
      // Which encoder file: loadModel runs the folder's optimized one on the CPU when it has one.
      { name: `model load (both sessions, checksums; ${basename(model.encoderPath)})${label}`, unit: "s", value: loadS },
      { name: `embed() per 512x512 image, wall${label}`, unit: "ms", summary: summarize(wall) },
      { name: `  of which encoder session.run${label}`, unit: "ms", summary: summarize(session) },
      { name: `  of which preprocess in the encoder process${label}`, unit: "ms", summary: summarize(workerPre) },
      { name: `embed() CPU time, kernel + encoder process${label}`, unit: "ms", summary: summarize(cpu), note: "steadier than wall on a busy machine" },
      {
        name: `embed() outside session.run / session.run${label}`,
        unit: "%",
        value: ((wallMedian - encMedian) / encMedian) * 100,
        target: { max: 5, text: "< 5 %" },
        note: "intensity, hashing, transfer, preprocess",
      },
      { name: `segment() right after an encoding${label}`, unit: "ms", summary: summarize(after), target: { max: DECODER_TARGET_MS, text: `p50 < ${DECODER_TARGET_MS} ms` } },
      { name: `RSS after warm-up, kernel + encoder process${label}`, unit: "MB", value: rssWarmAll / MiB },
      {
        name: `peak RSS during encoding${label}`,
        unit: "MB",
        value: (peakReset && peak !== undefined ? peak : sampledPeak) / MiB,
        target: { max: PEAK_RSS_TARGET_MB, text: `< ${PEAK_RSS_TARGET_MB} MB` },
        note: peakReset
          ? "VmHWM of the kernel + VmHWM of the encoder process (an upper bound of the joint peak)"
          : "sampled every 25 ms, kernel + encoder process",
      },
    ];
    cpuCheck = { clicks: clicks.map((c) => c.prompt), metrics };
    result = {
      section: "encoder",
      metrics,
      details: {
        label: config.label,
        device,
        devices,
        encoderPath: model.encoderPath,
        encoderSessionOptions: config.encoderSessionOptions,
        decoderSessionOptions: config.decoderSessionOptions,
        rssStartMB: rssStart / MiB,
        rssLoadedMB: rssLoaded / MiB,
        rssAfterWarmupWithEncoderMB: rssWarmAll / MiB,
        rssAfterWarmupMB: rssWarm / MiB,
        sampledPeakMB: sampledPeak / MiB,
        kernelPeakMB: peak === undefined ? undefined : peak / MiB,
        peakCounterReset: peakReset,
        wallMs: wall,
        sessionRunMs: session,
        workerPreprocessMs: workerPre,
        clicksAfterEncodeMs: after,
        cpuMs: cpu,
      },
    };
  } finally {
    await model.dispose();
  }
  if (device !== "cpu" && cpuCheck) {
    // After the device's model is gone: the CPU model's encoder must not share the machine with it.
    const cpu = await cpuOutputs(config, timedImages, cpuCheck.clicks);
    cpuCheck.metrics.push(...agreementMetrics(devices.encoder, `encoder on ${devices.encoder}, decoder on ${devices.decoder}`, onDevice, cpu));
  }
  return result;
}
