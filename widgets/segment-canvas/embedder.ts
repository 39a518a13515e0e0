/**
 * Slice embeddings on demand, plus the neighbours of the slice being looked at in the
 * background, one encoder run at a time (the encoder process serializes runs anyway; queueing
 * here lets the slice the user clicks on jump ahead of the prefetch).
 *
 * The encoder runs in the model's encoder process, so the kernel keeps answering comm messages
 * meanwhile. A request never waits for more than the one run already in progress.
 */
import type { Image2D } from "../../kernel/io/image.js";
import type { IntensitySpec } from "../../kernel/intensity/spec.js";
import type { Embedding } from "../../kernel/sam/embedding.js";

export interface Encoder {
  embed(image: Image2D, options?: { intensity?: IntensitySpec }): Promise<Embedding>;
}

interface Waiter {
  resolve(e: Embedding): void;
  reject(err: unknown): void;
}

export class SliceEmbedder {
  /** Recent embeddings by slice; the model's own cache keeps more, but needs a hash of the pixels to find them. */
  private readonly recent = new Map<number, Embedding>();
  private readonly waiters = new Map<number, Waiter[]>();
  private urgent: number[] = [];
  private prefetchQueue: number[] = [];
  private running: number | undefined;
  private idleListeners: (() => void)[] = [];

  constructor(
    private readonly encoder: Encoder,
    private readonly slice: (z: number) => Image2D,
    private readonly depth: number,
    private readonly intensity: IntensitySpec | undefined,
    private readonly onActivity: (busyWith: number | undefined) => void = () => {},
    /** How many embeddings to hold by slice index (the current slice and its neighbours). */
    private readonly keep = 8,
  ) {}

  has(z: number): boolean {
    return this.recent.has(z);
  }

  /** The slice being embedded now, if any. */
  get busyWith(): number | undefined {
    return this.running;
  }

  /** The embedding of slice z, computed now (ahead of any prefetch) if not at hand. */
  get(z: number): Promise<Embedding> {
    const hit = this.recent.get(z);
    if (hit) {
      this.touch(z, hit);
      return Promise.resolve(hit);
    }
    const promise = new Promise<Embedding>((resolve, reject) => {
      const list = this.waiters.get(z) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(z, list);
    });
    if (this.running !== z && !this.urgent.includes(z)) this.urgent.push(z);
    this.prefetchQueue = this.prefetchQueue.filter((q) => q !== z);
    this.pump();
    return promise;
  }

  /** Replaces the background queue with the neighbours of `center` (nearest first). */
  prefetch(center: number, radius = 2): void {
    const order: number[] = [];
    for (let d = 0; d <= radius; d++) {
      for (const z of d === 0 ? [center] : [center + d, center - d]) {
        if (z >= 0 && z < this.depth && !this.recent.has(z) && z !== this.running && !this.urgent.includes(z)) order.push(z);
      }
    }
    this.prefetchQueue = order;
    this.pump();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.running === undefined && this.urgent.length === 0 && this.prefetchQueue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleListeners.push(resolve));
  }

  private touch(z: number, e: Embedding): void {
    this.recent.delete(z);
    this.recent.set(z, e);
    while (this.recent.size > this.keep) this.recent.delete(this.recent.keys().next().value!);
  }

  private pump(): void {
    if (this.running !== undefined) return;
    const z = this.urgent.shift() ?? this.prefetchQueue.shift();
    if (z === undefined) {
      this.onActivity(undefined);
      const listeners = this.idleListeners;
      this.idleListeners = [];
      for (const l of listeners) l();
      return;
    }
    this.running = z;
    this.onActivity(z);
    let image: Image2D;
    try {
      image = this.slice(z);
    } catch (err) {
      this.finish(z, undefined, err);
      return;
    }
    this.encoder.embed(image, this.intensity ? { intensity: this.intensity } : {}).then(
      (e) => this.finish(z, e, undefined),
      (err: unknown) => this.finish(z, undefined, err),
    );
  }

  private finish(z: number, embedding: Embedding | undefined, error: unknown): void {
    this.running = undefined;
    const waiting = this.waiters.get(z) ?? [];
    this.waiters.delete(z);
    if (embedding) {
      this.touch(z, embedding);
      for (const w of waiting) w.resolve(embedding);
    } else {
      for (const w of waiting) w.reject(error);
    }
    this.pump();
  }
}
