/**
 * In-memory embeddings, least recently used out first, within a byte budget. A click on
 * an image already embedded never re-runs the encoder; two embed() calls for the same
 * pixels while the first is still running share its promise.
 *
 * One of the two embedding caches (docs/inference.md §10). This one is per process and holds
 * float32 embeddings: every `SamModel` keeps one for the images it embedded (`model.cache`),
 * and `VolumeEmbeddings` (volume-embeddings.ts) keeps one per volume view in front of the
 * on-disk store (disk-store.ts), which outlives the process at half precision (float16.ts).
 * It needs nothing of an embedding but its key and size, so it imports nothing and the SAM
 * layer can use it without depending on the volume side of this folder.
 */

/** What the cache needs of an entry: the key it is filed under and the bytes it holds. */
export interface Cacheable {
  readonly key: string;
  readonly data: { readonly byteLength: number };
}

/** 64 embeddings of 4 MiB: a few images' worth of slices without surprising anyone's RAM. */
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

export class MemoryEmbeddingCache<Embedding extends Cacheable> {
  private readonly entries = new Map<string, Embedding>();
  private readonly inFlight = new Map<string, Promise<Embedding>>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly budgetBytes: number = DEFAULT_CACHE_BYTES) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Embedding | undefined {
    const e = this.entries.get(key);
    if (e) {
      this.entries.delete(key); // re-insert: Map order is the recency order
      this.entries.set(key, e);
    }
    return e;
  }

  /** Returns the cached embedding, or the running computation, or starts `compute`. */
  getOrCompute(key: string, compute: () => Promise<Embedding>): Promise<Embedding> {
    const hit = this.get(key);
    if (hit) {
      this.hits++;
      return Promise.resolve(hit);
    }
    const running = this.inFlight.get(key);
    if (running) {
      this.hits++;
      return running;
    }
    this.misses++;
    const p = compute().then(
      (e) => {
        this.inFlight.delete(key);
        this.set(e);
        return e;
      },
      (err: unknown) => {
        this.inFlight.delete(key);
        throw err;
      },
    );
    this.inFlight.set(key, p);
    return p;
  }

  set(e: Embedding): void {
    const old = this.entries.get(e.key);
    if (old) {
      this.entries.delete(e.key);
      this.bytes -= old.data.byteLength;
    }
    this.entries.set(e.key, e);
    this.bytes += e.data.byteLength;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.budgetBytes || this.entries.size <= 1) break;
      this.entries.delete(k);
      this.bytes -= v.data.byteLength;
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
