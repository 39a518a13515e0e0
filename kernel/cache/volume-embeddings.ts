/**
 * Embeddings of every slice of a volume view: computed on demand or precomputed in the
 * background, kept in memory (LRU within a byte budget) and on disk (disk-store.ts).
 *
 * The user never waits for the queue: `get(z)` for the slice on screen jumps ahead of the
 * precompute, which keeps going afterwards (the order is slice-scheduler.ts, shared with the
 * canvas); the encoder itself runs in the engine's encoder process, so the kernel stays
 * responsive. A precompute reports progress (count, rate, ETA)
 * and stops on an AbortSignal, interrupting the running slice.
 *
 * Intensity (docs/inference.md §3, step 2):
 *   per-slice  (default, the reference: micro_sam normalises each slice by its own min/max),
 *   per-volume (one min/max over the whole volume, so a slice's brightness means the same
 *               everywhere), or a CT/MR window (level/width).
 *
 * The front of the cache family: it owns a memory cache (memory-cache.ts, float32, this
 * session) and opens the volume's on-disk store (disk-store.ts, float16 via float16.ts, across
 * sessions); a slice is looked up in that order and only then sent to the encoder. This is the
 * one the public API exports; the other three are its parts.
 */
import { statSync } from "node:fs";
import type { Image2D } from "../io/image.js";
import { extractSlice, viewMapping, type ViewMapping, type ViewName } from "../io/volume-view.js";
import { volumeStats, type Volume } from "../io/volume.js";
import type { IntensitySpec } from "../intensity/spec.js";
import type { Embedding } from "../sam/embedding.js";
import type { PreparedImage } from "../sam/model.js";
import type { ModelManifest } from "../sam/manifest.js";
import { dataSignature, defaultStoreRoot, VolumeEmbeddingStore } from "./disk-store.js";
import { MemoryEmbeddingCache } from "./memory-cache.js";
import { decodeHalf, encodeHalf } from "./float16.js";
import { SliceScheduler, type BackgroundLane } from "./slice-scheduler.js";

export type VolumeIntensity =
  | { readonly mode: "per-slice" }
  | { readonly mode: "per-volume" }
  | { readonly mode: "window"; readonly level: number; readonly width: number };

/** What the engine (SamModel) offers that this module uses. */
export interface Embedder {
  readonly manifest: ModelManifest;
  readonly encoderPath?: string;
  embed(image: Image2D, options?: { intensity?: IntensitySpec; cache?: boolean }): Promise<Embedding>;
  /** embed() in two halves (SamModel.prepare / embedPrepared); without them a precompute runs slice after slice. */
  prepare?(image: Image2D, options?: { intensity?: IntensitySpec }): PreparedImage;
  embedPrepared?(prepared: PreparedImage, options?: { cache?: boolean; onStarted?: () => void }): Promise<Embedding>;
  /** Interrupts the running encoder call (its promise rejects). */
  cancel?(): Promise<void>;
}

export interface VolumeEmbeddingsOptions {
  readonly view?: ViewName;
  readonly intensity?: VolumeIntensity;
  /** Folder of the on-disk store; default ~/.cache/medicosam/embeddings; null: memory only. */
  readonly storeRoot?: string | null;
  /** Memory budget of the in-memory LRU, bytes (4 MiB per slice); default 512 MiB. */
  readonly memoryBytes?: number;
  /**
   * Prepare the next slice (extraction, intensity, cache key, resize) while the encoder process
   * runs the current one (default true; false runs each slice's steps one after the other, as
   * the benchmark's "before" row does). The embeddings are the same bit for bit.
   */
  readonly pipeline?: boolean;
}

export interface PrecomputeProgress {
  /** Slices of the range that are available (computed now or found on disk). */
  readonly done: number;
  readonly total: number;
  /** Computed by the encoder in this run, and found already stored. */
  readonly computed: number;
  readonly fromStore: number;
  /** Slice just finished. */
  readonly slice?: number;
  readonly elapsedS: number;
  /** Encoder slices per second in this run (NaN before the first one). */
  readonly rate: number;
  /** Seconds left at that rate (NaN when unknown). */
  readonly etaS: number;
  readonly finished: boolean;
  readonly interrupted: boolean;
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** One line for a progress display, e.g. "120/300 slices (80 computed, 40 stored), 0.31 slices/s, ETA 9 min 41 s". */
export function formatProgress(p: PrecomputeProgress): string {
  const what = `${p.done}/${p.total} slices (${p.computed} computed, ${p.fromStore} from the store)`;
  const speed = Number.isFinite(p.rate) ? `, ${p.rate.toFixed(2)} slices/s` : "";
  if (p.interrupted) return `interrupted at ${what} after ${duration(p.elapsedS)}`;
  if (p.finished) return `done: ${what} in ${duration(p.elapsedS)}${speed}`;
  return `${what}${speed}, ETA ${duration(p.etaS)}`;
}

const DEFAULT_MEMORY = 512 * 2 ** 20;

export class VolumeEmbeddings {
  readonly mapping: ViewMapping;
  readonly depth: number;
  readonly intensitySpec: IntensitySpec;
  private readonly memory: MemoryEmbeddingCache<Embedding>;
  private readonly scheduler: SliceScheduler<Embedding>;
  private readonly keyPrefix: string;
  /** The slice prepared while the encoder ran the previous one (pipeline), if any. */
  private ahead: { readonly z: number; readonly prepared: PreparedImage } | undefined;
  /** Slices sent to the encoder ahead of their turn (pipeline): their scheduler run awaits these. */
  private readonly inflight = new Map<number, Promise<Embedding>>();

  private constructor(
    private readonly volume: Volume,
    private readonly model: Embedder,
    readonly store: VolumeEmbeddingStore | null,
    mapping: ViewMapping,
    intensity: IntensitySpec,
    memoryBytes: number,
    signature: string,
    private readonly pipeline: boolean,
  ) {
    this.mapping = mapping;
    this.depth = mapping.depth;
    this.intensitySpec = intensity;
    this.memory = new MemoryEmbeddingCache<Embedding>(memoryBytes);
    this.keyPrefix = store ? store.dir : `memory:${signature.slice(0, 16)}`;
    this.scheduler = new SliceScheduler<Embedding>({
      has: (z) => this.available(z),
      load: (z) => this.held(z),
      compute: (z) => this.compute(z),
    });
  }

  static async open(volume: Volume, model: Embedder, options: VolumeEmbeddingsOptions = {}): Promise<VolumeEmbeddings> {
    const view = options.view ?? "axial";
    const mapping = viewMapping(volume, view);
    const intensity = resolveIntensity(volume, options.intensity ?? { mode: "per-slice" });
    const signature = dataSignature(volume.data, [...volume.dims, volume.channels]);
    const pre = model.manifest.preprocessing ?? {};
    const imageSize = pre.imageSize ?? 1024;
    const originalSize = { height: mapping.height, width: mapping.width };
    const scale = imageSize / Math.max(mapping.height, mapping.width);
    const resizedSize = { height: Math.floor(mapping.height * scale + 0.5), width: Math.floor(mapping.width * scale + 0.5) };
    let store: VolumeEmbeddingStore | null = null;
    if (options.storeRoot !== null) {
      store = await VolumeEmbeddingStore.open(
        options.storeRoot ?? defaultStoreRoot(),
        {
          dataSignature: signature,
          model: { name: model.manifest.name, identity: modelIdentity(model) },
          settings: {
            view,
            axes: [mapping.colAxis, mapping.rowAxis, mapping.sliceAxis, mapping.colFlip, mapping.rowFlip, mapping.sliceFlip],
            intensity,
            imageSize,
            pixelMean: pre.pixelMean ?? null,
            pixelStd: pre.pixelStd ?? null,
          },
        },
        { depth: mapping.depth, originalSize, resizedSize },
      );
    }
    return new VolumeEmbeddings(volume, model, store, mapping, intensity, options.memoryBytes ?? DEFAULT_MEMORY, signature, options.pipeline ?? true);
  }

  get width(): number {
    return this.mapping.width;
  }

  get height(): number {
    return this.mapping.height;
  }

  /** The slice image (same values as the volume) that is embedded for index `z`. */
  slice(z: number): Image2D {
    return extractSlice(this.volume, this.mapping, z);
  }

  /** True when `get(z)` needs no encoder run. */
  available(z: number): boolean {
    return this.memory.get(this.key(z)) !== undefined || (this.store?.has(z) ?? false);
  }

  /** The embedding of slice `z`: from memory, else disk, else computed ahead of any precompute. */
  async get(z: number): Promise<Embedding> {
    this.checkIndex(z);
    return this.scheduler.get(z);
  }

  /** Put `z` first in line (the slice the user is looking at). */
  prioritize(z: number): void {
    this.checkIndex(z);
    this.scheduler.prioritize(z);
  }

  /**
   * One encoder run for slice z. Pipelined, the encoder process never waits for this thread:
   * the moment z's embedding is back, the next background slice (prepared during z's run) is
   * sent, and only then is z stored (float16, disk); while that next slice runs, the one after
   * it is prepared. A request for another slice (the slice on screen) comes next after the
   * slice already sent: at most one encoder run later than without the pipeline.
   */
  private async compute(z: number): Promise<Embedding> {
    if (!this.pipeline || !this.model.prepare || !this.model.embedPrepared) {
      return this.keep(z, await this.model.embed(this.slice(z), { intensity: this.intensitySpec, cache: false }));
    }
    const sent = this.inflight.get(z) ?? this.send(z);
    this.inflight.delete(z);
    const computed = await sent;
    const next = this.scheduler.peekBackground((s) => s === z || this.inflight.has(s));
    if (next !== undefined) this.sendAhead(next);
    return this.keep(z, computed);
  }

  /**
   * Slice z to the encoder before its turn. A failure here (a cancel, a slice that cannot be
   * prepared) is forgotten: the slice is sent again on its turn, and fails there if it must.
   */
  private sendAhead(z: number): void {
    let ahead: Promise<Embedding>;
    try {
      ahead = this.send(z);
    } catch {
      return;
    }
    this.inflight.set(z, ahead);
    ahead.catch(() => {
      if (this.inflight.get(z) === ahead) this.inflight.delete(z);
    });
  }

  /** Sends slice z to the encoder (prepared ahead if it was); once the process has it, prepares the slice after. */
  private send(z: number): Promise<Embedding> {
    const model = this.model as Required<Pick<Embedder, "prepare" | "embedPrepared">>;
    const prepared = this.ahead?.z === z ? this.ahead.prepared : model.prepare(this.slice(z), { intensity: this.intensitySpec });
    if (this.ahead?.z === z) this.ahead = undefined;
    const onStarted = (): void => {
      const next = this.scheduler.peekBackground((s) => s === z || this.inflight.has(s));
      if (next === undefined || this.ahead?.z === next) return;
      try {
        this.ahead = { z: next, prepared: model.prepare(this.slice(next), { intensity: this.intensitySpec }) };
      } catch {
        // Prepared again on its turn, where its error belongs to its own run.
      }
    };
    return model.embedPrepared(prepared, { cache: false, onStarted });
  }

  /** A slice `available` says is held: from memory, else from disk (then kept in memory too). */
  private async held(z: number): Promise<Embedding> {
    const hit = this.memory.get(this.key(z));
    if (hit) return hit;
    const e = this.rekey(await this.store!.read(z), z);
    this.memory.set(e);
    return e;
  }

  /**
   * Compute every slice in [from, to] not yet stored, in order (after any urgent slice).
   * Resolves with the final progress, also when interrupted through `signal`.
   */
  precompute(
    options: { from?: number; to?: number; signal?: AbortSignal; onProgress?: (p: PrecomputeProgress) => void } = {},
  ): Promise<PrecomputeProgress> {
    const from = options.from ?? 0;
    const to = options.to ?? this.depth - 1;
    this.checkIndex(from);
    this.checkIndex(to);
    if (to < from) throw new Error(`precompute range ${from}..${to} is empty`);
    const total = to - from + 1;
    const started = performance.now();
    let computed = 0;
    const range = Array.from({ length: total }, (_, i) => from + i);
    const fromStore = range.filter((z) => this.available(z)).length;
    const queue = range.filter((z) => !this.available(z));
    const progress = (slice: number | undefined, finished: boolean, interrupted: boolean): PrecomputeProgress => {
      const elapsedS = (performance.now() - started) / 1000;
      const rate = computed > 0 ? computed / elapsedS : NaN;
      const done = fromStore + computed;
      return {
        done,
        total,
        computed,
        fromStore,
        ...(slice !== undefined ? { slice } : {}),
        elapsedS,
        rate,
        etaS: finished ? 0 : computed > 0 ? (total - done) / rate : NaN,
        finished,
        interrupted,
      };
    };
    return new Promise<PrecomputeProgress>((resolve, reject) => {
      if (queue.length === 0 || options.signal?.aborted) {
        const p = progress(undefined, queue.length === 0, queue.length > 0);
        options.onProgress?.(p);
        resolve(p);
        return;
      }
      let active = true;
      const run: BackgroundLane = {
        queue,
        done: (z) => {
          computed++;
          const p = progress(z, run.queue.length === 0 && this.scheduler.running?.lane !== run, false);
          options.onProgress?.(p);
          if (p.finished) {
            active = false;
            this.scheduler.removeLane(run);
            options.signal?.removeEventListener("abort", onAbort);
            resolve(p);
          }
        },
        failed: (_z, err) => {
          active = false;
          this.scheduler.removeLane(run);
          options.signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        if (!active) return;
        active = false;
        this.scheduler.removeLane(run);
        run.queue.length = 0;
        this.inflight.clear();
        this.ahead = undefined;
        const running = this.scheduler.running;
        if (running?.background && !this.scheduler.isAwaited(running.z)) void this.model.cancel?.();
        const p = progress(undefined, false, true);
        options.onProgress?.(p);
        resolve(p);
      };
      options.signal?.addEventListener("abort", onAbort);
      options.onProgress?.(progress(undefined, false, false));
      this.scheduler.addLane(run);
    });
  }

  /** Store the new embedding; the in-memory copy is the half-precision one, so results never depend on where an embedding came from. */
  private async keep(z: number, computed: Embedding): Promise<Embedding> {
    if (computed.originalSize.height !== this.mapping.height || computed.originalSize.width !== this.mapping.width) {
      throw new Error(`internal: slice ${z} embedded at ${computed.originalSize.width}x${computed.originalSize.height}, view is ${this.mapping.width}x${this.mapping.height}`);
    }
    if (this.store) {
      const expected = this.store.manifest.resizedSize;
      if (computed.resizedSize.height !== expected.height || computed.resizedSize.width !== expected.width) {
        throw new Error(
          `the encoder resized slice ${z} to ${computed.resizedSize.width}x${computed.resizedSize.height}, the store expects ${expected.width}x${expected.height}`,
        );
      }
      await this.store.write(z, computed);
    }
    const data = this.store ? decodeHalf(encodeHalf(computed.data)) : computed.data;
    const e = this.rekey({ ...computed, data }, z);
    this.memory.set(e);
    return e;
  }

  private key(z: number): string {
    return `${this.keyPrefix}:${z}`;
  }

  private rekey(e: Embedding, z: number): Embedding {
    return { ...e, key: this.key(z) };
  }

  private checkIndex(z: number): void {
    if (!Number.isInteger(z) || z < 0 || z >= this.depth) throw new Error(`${this.mapping.view} slice ${z} is outside 0..${this.depth - 1}`);
  }
}

/** The engine's intensity spec for a volume setting (per-volume becomes a window over the volume's range). */
export function resolveIntensity(volume: Volume, v: VolumeIntensity): IntensitySpec {
  switch (v.mode) {
    case "per-slice":
      return { mode: "minmax" };
    case "window":
      if (!(v.width > 0)) throw new Error(`window width must be > 0, got ${v.width}`);
      return { mode: "window", level: v.level, width: v.width };
    case "per-volume": {
      const s = volumeStats(volume.data);
      const width = s.max - s.min;
      return { mode: "window", level: (s.max + s.min) / 2, width: width > 0 ? width : 1 };
    }
  }
}

/** What makes two loads of a model the same for the store: the encoder's checksum, else its file. */
export function modelIdentity(model: Pick<Embedder, "manifest" | "encoderPath">): string {
  if (model.manifest.encoder.sha256) return `sha256:${model.manifest.encoder.sha256}`;
  if (model.encoderPath) {
    const st = statSync(model.encoderPath);
    return `${model.encoderPath}:${st.size}:${st.mtimeMs}`;
  }
  return `name:${model.manifest.name}`;
}
