/**
 * A loaded SAM-family model: encoder (a child process) + decoder (this thread) + embedding
 * cache. The notebook-facing core: embed() once per image, segment() per prompt.
 */
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { inspect } from "node:util";
import type { InferenceSession } from "onnxruntime-node";
import type { Image2D, RgbImage8, Size2D } from "../io/image.js";
import { MemoryEmbeddingCache } from "../cache/memory-cache.js";
import { toRgb8 } from "../intensity/normalize.js";
import { DEFAULT_INTENSITY, type IntensitySpec } from "../intensity/spec.js";
import { LOW_RES_SIDE, SamDecoder } from "./decoder.js";
import type { Embedding } from "./embedding.js";
import type { EncoderSettings } from "./encoder-protocol.js";
import { EncoderProcess, type EncoderOutput, type EncoderRequestOptions } from "./encoder.js";
import type { ModelManifest } from "./manifest.js";
import { maskInputFor } from "./mask-prompt.js";
import { resizeForEncoder, SAM_IMAGE_SIZE, SAM_PIXEL_MEAN, SAM_PIXEL_STD } from "./preprocess.js";
import { resolveModel, type ModelSource, type Precision } from "./model-files.js";
import type { Prompt } from "./prompt.js";
import { encodePrompt, PromptError } from "./prompt-encoding.js";
import type { MaskCandidate, SegmentResult } from "./segment-result.js";
import { chooseToken, wantsMultimask, type MultimaskMode } from "./select.js";
import { encoderSessionOptions } from "./session-options.js";
import { defaultDevice, type Device, type SessionDevice } from "./device.js";

export { SAM_PIXEL_MEAN, SAM_PIXEL_STD } from "./preprocess.js";
export type { Precision } from "./model-files.js";

export interface LoadOptions {
  /** Default intensity mode for embed(); else model.json's, else `minmax` (micro_sam >= 1.7). */
  readonly intensity?: IntensitySpec;
  /**
   * `int8` runs the folder's quantized encoder (`medicosam quantize`; model.json `encoderInt8`):
   * on CPUs with AVX-512 VNNI / AVX-VNNI the ViT-B encoder ran 1.6-2x faster (its weight MatMuls
   * ~3x; attention stays float32), mask IoU >= 0.99 vs float32 in bench/quantize.ts; `fp32`
   * (default) the exported one.
   */
  readonly precision?: Precision;
  /**
   * Run the folder's `medicosam optimize` rewrite of the float32 encoder (model.json
   * `encoderOptimized`) when there is one. Default: yes on the CPU, no on GPUs (where the
   * rewrite was not measured). Same embeddings within 1e-4, ~9 % faster, and the ViT-B encoder
   * process peaks at ~1.26 GB instead of ~3.6 GB (docs/performance.md).
   */
  readonly optimized?: boolean;
  /** Check model.json's sha256 of both files (default true). */
  readonly verifyChecksums?: boolean;
  /** Byte budget of the in-memory embedding cache. */
  readonly cacheBytes?: number;
  readonly encoderSessionOptions?: InferenceSession.SessionOptions;
  /**
   * Where embed() finds "the user wants this to stop" when the caller passes no signal. The
   * notebook API sets it to the kernel's interrupt signal; SAM itself knows nothing of Jupyter.
   */
  readonly interruptSignal?: () => AbortSignal | undefined;
  readonly decoderSessionOptions?: InferenceSession.SessionOptions;
  /**
   * Where the image encoder runs: `cpu`, `webgpu`, `cuda`, or `auto` (the first GPU provider
   * that starts, else the CPU, with a one-line notice saying which and why). Default: the
   * environment variable MEDICOSAM_DEVICE, else `cpu`. A device asked for by name that cannot
   * start fails the load with a DeviceUnavailableError saying why and what to install.
   */
  readonly device?: Device;
  /**
   * Where the prompt encoder + mask decoder runs (default `cpu`, whatever `device` says). A
   * click is small work: on the CPU the ViT-B decoder takes 40-120 ms, and on a GPU provider
   * every click would also upload the 4 MiB embedding and download the full-size masks, while
   * nodes the provider lacks run on the CPU with copies in between. Measured here only on a
   * software Vulkan driver: the demo decoder's session.run took 24 ms on the CPU and 662 ms with
   * WebGPU on lavapipe (docs/performance.md "Devices"); on a GPU machine
   * `npm run bench -- --device webgpu --only decoder` measures it.
   */
  readonly decoderDevice?: Device;
  /** Where the `auto` notice goes (default console.warn). */
  readonly onNotice?: (line: string) => void;
}

export interface EmbedOptions {
  readonly intensity?: IntensitySpec;
  /**
   * Keep the result in the in-memory cache (default true). Callers with a store of their
   * own (volume precompute) pass false, so that embeddings are not held twice.
   */
  readonly cache?: boolean;
  /** Aborting it cancels the encoder run (and every embed() waiting on it). */
  readonly signal?: AbortSignal;
}

export interface SegmentOptions {
  /** `auto` = micro_sam's rule (multimask only for a single positive point); `on`; `off`. */
  readonly multimask?: MultimaskMode;
}

/** An image with the kernel's share of preprocessing done (SamModel.prepare). */
export interface PreparedImage {
  /** The cache key: embed() of the same pixels and settings has the same. */
  readonly key: string;
  readonly originalSize: Size2D;
  /** What the encoder process gets: the image, or its longest-side resize when that is smaller. */
  readonly pixels: RgbImage8;
  /** `pixels` is the resize: the encoder process only normalises and pads. */
  readonly resized: boolean;
}

/** Timings of the last calls, in milliseconds, for progress displays and benchmarks. */
export interface Timings {
  preprocessMs?: number;
  encoderMs?: number;
  decoderMs?: number;
}

/**
 * `source`: a model folder, `{ encoder, decoder }` files, or a registry name ("medicosam",
 * "sam-vit-b", "medsam", "demo"; models/registry.json) looked up in the package's models/ and
 * then the user's model cache, with the export command in the error when it is missing.
 */
export async function loadModel(source: ModelSource, options: LoadOptions = {}): Promise<SamModel> {
  const device = options.device ?? defaultDevice();
  // The optimizer's chunked attention was measured on onnxruntime's CPU provider only.
  const files = await resolveModel(source, {
    verifyChecksums: options.verifyChecksums ?? true,
    precision: options.precision,
    optimized: options.optimized ?? device === "cpu",
  });
  const encoder = new EncoderProcess(files.encoderPath, { ...encoderSessionOptions(files.precision), ...options.encoderSessionOptions }, device);
  // Both sessions load now, so a wrongly exported model fails here, not at the first click.
  // allSettled: a decoder that fails fast must not leave the encoder process loading behind us.
  const [dec, enc] = await Promise.allSettled([
    SamDecoder.load(files.decoderPath, options.decoderSessionOptions, options.decoderDevice ?? "cpu"),
    encoder.load(),
  ]);
  if (dec.status === "rejected" || enc.status === "rejected") {
    await encoder.dispose();
    if (dec.status === "fulfilled") await dec.value.release();
    // The encoder's error first: its device is the one the caller chose.
    throw enc.status === "rejected" ? enc.reason : (dec as PromiseRejectedResult).reason;
  }
  const decoder = dec.value;
  const declared = files.manifest.decoder.numMasks;
  if (declared !== undefined && decoder.numMasks !== undefined && declared !== decoder.numMasks) {
    await encoder.dispose();
    await decoder.release();
    throw new Error(
      `${files.decoderPath}: model.json says numMasks ${declared} but the decoder returns ${decoder.numMasks}; fix model.json.`,
    );
  }
  const notify = options.onNotice ?? ((line: string) => console.warn(line));
  for (const [role, notice] of [["encoder", encoder.notice ?? files.optimizedNotice], ["decoder", decoder.notice]] as const) {
    if (notice) notify(`${files.manifest.name} ${role}: ${notice}`);
  }
  return new SamModel(files.manifest, files.encoderPath, files.decoderPath, encoder, decoder, options, files.precision);
}

/** Where each session of a model runs. */
export interface ModelDevices {
  readonly encoder: SessionDevice;
  readonly decoder: SessionDevice;
}

export class SamModel {
  readonly cache: MemoryEmbeddingCache<Embedding>;
  readonly timings: Timings = {};
  private readonly settings: EncoderSettings;
  /** The intensity mode embed() uses when its caller names none (LoadOptions, else model.json, else minmax). */
  readonly defaultIntensity: IntensitySpec;
  /** LoadOptions.interruptSignal: long jobs on this model (embed(), the automatic generator) stop when it aborts. */
  readonly interruptSignal: (() => AbortSignal | undefined) | undefined;
  /** What makes two loads of "the same" model interchangeable for the cache. */
  private readonly identity: string;

  constructor(
    readonly manifest: ModelManifest,
    readonly encoderPath: string,
    readonly decoderPath: string,
    private readonly encoder: EncoderProcess,
    private readonly decoder: SamDecoder,
    options: LoadOptions,
    readonly precision: Precision = "fp32",
  ) {
    const pre = manifest.preprocessing ?? {};
    this.settings = {
      imageSize: pre.imageSize ?? SAM_IMAGE_SIZE,
      pixelMean: pre.pixelMean ?? SAM_PIXEL_MEAN,
      pixelStd: pre.pixelStd ?? SAM_PIXEL_STD,
    };
    this.defaultIntensity = options.intensity ?? pre.intensity ?? DEFAULT_INTENSITY;
    this.interruptSignal = options.interruptSignal;
    this.cache = new MemoryEmbeddingCache<Embedding>(options.cacheBytes);
    const st = statSync(encoderPath);
    this.identity = manifest.encoder.sha256 ?? `${encoderPath}:${st.size}:${st.mtimeMs}`;
  }

  get name(): string {
    return this.manifest.name;
  }

  /** The line to show next to results (e.g. "demo model ... not MedicoSAM"), if any. */
  get notice(): string | undefined {
    return this.manifest.notice;
  }

  /** Where the encoder and the decoder run (`auto` resolved). */
  get devices(): ModelDevices {
    return { encoder: this.encoder.device ?? "cpu", decoder: this.decoder.device };
  }

  /** What was loaded and where it runs, one fact per line (also what the model shows when printed). */
  describe(): string {
    const d = this.devices;
    return [
      `model ${this.name}${this.notice ? ` (${this.notice})` : ""}`,
      `  encoder  ${this.encoderPath} (${this.precision}) on ${d.encoder}${this.encoder.notice ? ` — ${this.encoder.notice}` : ""}`,
      `  decoder  ${this.decoderPath} on ${d.decoder}${this.decoder.notice ? ` — ${this.decoder.notice}` : ""}, ${this.numMasks ?? "?"} mask(s)`,
    ].join("\n");
  }

  /** console.log(model) and a notebook cell ending in `model` show describe(). */
  [inspect.custom](): string {
    return this.describe();
  }

  /** Number of mask tokens the decoder returns (4 or 1; undefined until known). */
  get numMasks(): 1 | 4 | undefined {
    return this.decoder.numMasks;
  }

  /**
   * Image -> embedding. Intensity normalization happens here (it decides the pixels the
   * cache key covers); resize, normalize, pad and the encoder run in the encoder process.
   */
  async embed(image: Image2D, options: EmbedOptions = {}): Promise<Embedding> {
    const intensity = options.intensity ?? this.defaultIntensity;
    const rgb = toRgb8(image, intensity);
    const originalSize = { height: rgb.height, width: rgb.width };
    return this.run(this.keyOf(rgb), originalSize, options, (request) => this.encoder.embed(rgb, this.settings, request));
  }

  /**
   * The kernel's share of embed() done ahead: intensity and cache key, and the longest-side
   * resize (docs/inference.md §3) when it shrinks the image, leaving the rest to embedPrepared().
   * A volume's precompute prepares the next slice while the encoder process runs the current
   * one. An image that the resize enlarges (most slices: 512 -> 1024) goes as it is: the
   * resized one would be 4x the bytes to send (3 MB instead of 0.75 MB, 4 ms instead of 1 ms
   * through IPC), which the encoder process would then wait for.
   */
  prepare(image: Image2D, options: { readonly intensity?: IntensitySpec } = {}): PreparedImage {
    const rgb = toRgb8(image, options.intensity ?? this.defaultIntensity);
    const originalSize = { height: rgb.height, width: rgb.width };
    const shrinks = Math.max(rgb.width, rgb.height) > this.settings.imageSize;
    return { key: this.keyOf(rgb), originalSize, pixels: shrinks ? resizeForEncoder(rgb, this.settings.imageSize) : rgb, resized: shrinks };
  }

  /**
   * embed() of a prepared image: the same embedding, bit for bit, and the same cache entry.
   * `onStarted` is called once the encoder process has the request, when this thread is free.
   */
  embedPrepared(prepared: PreparedImage, options: EmbedOptions & { readonly onStarted?: () => void } = {}): Promise<Embedding> {
    const { onStarted, ...rest } = options;
    return this.run(prepared.key, prepared.originalSize, rest, (request) =>
      this.encoder.embed(prepared.pixels, this.settings, {
        ...request,
        ...(prepared.resized ? { originalSize: prepared.originalSize } : {}),
        ...(onStarted ? { onStarted } : {}),
      }),
    );
  }

  private keyOf(rgb: RgbImage8): string {
    const hash = createHash("sha256");
    hash.update(`${this.identity}|${JSON.stringify(this.settings)}|${rgb.width}x${rgb.height}|`);
    hash.update(rgb.data);
    return hash.digest("hex");
  }

  private run(key: string, originalSize: Size2D, options: EmbedOptions, send: (request: EncoderRequestOptions) => Promise<EncoderOutput>): Promise<Embedding> {
    const signal = options.signal ?? this.interruptSignal?.();
    signal?.throwIfAborted();
    const compute = async (): Promise<Embedding> => {
      const onAbort = (): void => void this.encoder.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      let out;
      try {
        out = await send({});
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
      this.timings.preprocessMs = out.preprocessMs;
      this.timings.encoderMs = out.encoderMs;
      return { data: out.data, originalSize, resizedSize: out.resizedSize, modelName: this.manifest.name, key };
    };
    if (options.cache === false) {
      const hit = this.cache.get(key);
      return hit ? Promise.resolve(hit) : compute();
    }
    return this.cache.getOrCompute(key, compute);
  }

  /** Prompt -> mask at the original size, with the logits to feed back for a correction. */
  async segment(embedding: Embedding, prompt: Prompt, options: SegmentOptions = {}): Promise<SegmentResult> {
    if (embedding.modelName !== this.manifest.name) {
      throw new PromptError(
        `this embedding was computed by model '${embedding.modelName}', not '${this.manifest.name}'; embed the image with this model.`,
      );
    }
    const mode = options.multimask ?? "auto";
    if (mode === "on" && this.decoder.numMasks === 1) {
      throw new PromptError(
        `${this.decoderPath} returns a single mask, so multimask 'on' is impossible; export the decoder with ` +
          "return_single_mask=False, or use multimask 'auto'/'off'.",
      );
    }
    const original = embedding.originalSize;
    const tensors = encodePrompt(prompt, original, embedding.resizedSize);
    const maskInput = prompt.mask ? maskInputFor(prompt.mask, original) : undefined;
    const t0 = performance.now();
    const out = await this.decoder.run(embedding.data, tensors, maskInput, original);
    const token = chooseToken(out.ious, wantsMultimask(prompt, mode));
    const n = original.height * original.width;
    const lowN = LOW_RES_SIDE * LOW_RES_SIDE;
    const candidates: MaskCandidate[] = [];
    for (let t = 0; t < out.numMasks; t++) {
      const mask = new Uint8Array(n);
      const logits = out.masks.subarray(t * n, (t + 1) * n);
      for (let i = 0; i < n; i++) mask[i] = logits[i]! > 0 ? 1 : 0;
      candidates.push({
        token: t,
        mask,
        iou: out.ious[t]!,
        chosen: t === token,
        lowResLogits: out.lowRes.slice(t * lowN, (t + 1) * lowN),
      });
    }
    const chosen = candidates[token]!;
    const result: SegmentResult = {
      width: original.width,
      height: original.height,
      mask: chosen.mask,
      logits: out.masks.slice(token * n, (token + 1) * n),
      iou: chosen.iou,
      token,
      ious: Array.from(out.ious),
      lowResLogits: chosen.lowResLogits,
      candidates,
    };
    this.timings.decoderMs = performance.now() - t0;
    return result;
  }

  /** The encoder's process id while it runs (it is started at load and after a cancel, on demand). */
  get encoderProcessId(): number | undefined {
    return this.encoder.pid;
  }

  /** Interrupts a running encoder; its pending embed() calls reject. */
  cancel(): Promise<void> {
    return this.encoder.cancel();
  }

  async dispose(): Promise<void> {
    this.cache.clear();
    await Promise.all([this.encoder.dispose(), this.decoder.release()]);
  }
}
