/**
 * The canvas's slice embeddings: on demand for the slice being segmented, plus the neighbours
 * of the slice being looked at in the background. The order (one encoder run at a time, a
 * requested slice ahead of the prefetch) is kernel/cache/slice-scheduler.ts, the same one
 * VolumeEmbeddings uses; this class adds the prefetch window and a few recent embeddings.
 *
 * The encoder runs in the model's encoder process, so the kernel keeps answering comm messages
 * meanwhile. A request never waits for more than the one run already in progress.
 */
import { SliceScheduler, type BackgroundLane } from "../../../kernel/cache/slice-scheduler.js";
import type { Image2D } from "../../../kernel/io/image.js";
import type { IntensitySpec } from "../../../kernel/intensity/spec.js";
import type { Embedding } from "../../../kernel/sam/embedding.js";

export interface Encoder {
  embed(image: Image2D, options?: { intensity?: IntensitySpec }): Promise<Embedding>;
}

export class SliceEmbedder {
  /** Recent embeddings by slice; the model's own cache keeps more, but needs a hash of the pixels to find them. */
  private readonly recent = new Map<number, Embedding>();
  private readonly prefetchLane: BackgroundLane = { queue: [] };
  private readonly scheduler: SliceScheduler<Embedding>;

  constructor(
    private readonly encoder: Encoder,
    private readonly slice: (z: number) => Image2D,
    private readonly depth: number,
    private readonly intensity: IntensitySpec | undefined,
    onActivity: (busyWith: number | undefined) => void = () => {},
    /** How many embeddings to hold by slice index (the current slice and its neighbours). */
    private readonly keep = 8,
  ) {
    this.scheduler = new SliceScheduler<Embedding>(
      {
        has: (z) => this.recent.has(z),
        load: (z) => {
          const hit = this.recent.get(z)!;
          this.touch(z, hit);
          return Promise.resolve(hit);
        },
        compute: async (z) => {
          const e = await this.encoder.embed(this.slice(z), this.intensity ? { intensity: this.intensity } : {});
          this.touch(z, e);
          return e;
        },
      },
      onActivity,
    );
    this.scheduler.addLane(this.prefetchLane);
  }

  has(z: number): boolean {
    return this.recent.has(z);
  }

  /** The slice being embedded now, if any. */
  get busyWith(): number | undefined {
    return this.scheduler.running?.z;
  }

  /** The embedding of slice z, computed now (ahead of any prefetch) if not at hand. */
  get(z: number): Promise<Embedding> {
    return this.scheduler.get(z);
  }

  /** Replaces the background queue with the neighbours of `center` (nearest first). */
  prefetch(center: number, radius = 2): void {
    const order: number[] = [];
    for (let d = 0; d <= radius; d++) {
      for (const z of d === 0 ? [center] : [center + d, center - d]) {
        if (z >= 0 && z < this.depth && !this.recent.has(z) && z !== this.busyWith) order.push(z);
      }
    }
    this.prefetchLane.queue.splice(0, this.prefetchLane.queue.length, ...order);
    this.scheduler.wake();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    return this.scheduler.idle();
  }

  private touch(z: number, e: Embedding): void {
    this.recent.delete(z);
    this.recent.set(z, e);
    while (this.recent.size > this.keep) this.recent.delete(this.recent.keys().next().value!);
  }
}
