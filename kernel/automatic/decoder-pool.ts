/**
 * A few worker threads, each with its own decoder session (decoder-worker.ts), that decode the
 * generator's grid points in parallel. The generator's rules (filters, stability, NMS) stay on
 * the calling thread; only the per-point decoder calls move. Results come back in the order of
 * the points, so the records are the same as from one session.
 */
import { Worker } from "node:worker_threads";
import type { Embedding } from "../sam/embedding.js";
import type { PointDecoding } from "./point-decoder.js";

/** Main thread -> worker: points to decode, with the embedding the first time a key is used. */
export interface ToDecoderWorker {
  readonly id: number;
  readonly key: string;
  readonly embedding?: Pick<Embedding, "data" | "originalSize" | "resizedSize">;
  readonly points: readonly { x: number; y: number }[];
}

type FromWorker = { ready: true } | { id: number; results: PointDecoding[] } | { id: number; error: string };

/** Starts decoder-worker next to this module: .js when compiled, .ts with tsx's loader under vitest. */
function startWorker(decoderPath: string): Worker {
  const self = import.meta.url;
  if (!self.endsWith(".ts")) return new Worker(new URL("./decoder-worker.js", self), { workerData: { decoderPath } });
  // A worker's execArgv loader is not applied to its entry file: register tsx inside, then import it.
  const api = import.meta.resolve("tsx/esm/api");
  const entry = new URL("./decoder-worker.ts", self).href;
  const boot = `import(${JSON.stringify(api)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: { decoderPath } });
}

class PoolWorker {
  private readonly pending = new Map<number, { resolve(r: PointDecoding[]): void; reject(e: Error): void }>();
  private nextId = 1;
  /** Key of the embedding this worker holds. */
  key = "";
  readonly ready: Promise<void>;

  constructor(readonly worker: Worker) {
    this.ready = new Promise((resolve, reject) => {
      worker.once("error", reject);
      worker.on("message", (m: FromWorker) => {
        if ("ready" in m) return resolve();
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if ("error" in m) p?.reject(new Error(`decoder worker: ${m.error}`));
        else p?.resolve(m.results);
      });
    });
    worker.on("error", (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  decode(embedding: Embedding, points: readonly { x: number; y: number }[]): Promise<PointDecoding[]> {
    const id = this.nextId++;
    const fresh = this.key !== embedding.key;
    this.key = embedding.key;
    const message: ToDecoderWorker = {
      id,
      key: embedding.key,
      points,
      ...(fresh ? { embedding: { data: embedding.data, originalSize: embedding.originalSize, resizedSize: embedding.resizedSize } } : {}),
    };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(message);
    });
  }
}

export class DecoderPool {
  private constructor(private readonly workers: PoolWorker[]) {}

  static async create(decoderPath: string, size: number): Promise<DecoderPool> {
    if (!Number.isInteger(size) || size < 1) throw new Error(`a decoder pool needs a whole number of workers >= 1, not ${size}`);
    const workers = Array.from({ length: size }, () => new PoolWorker(startWorker(decoderPath)));
    try {
      await Promise.all(workers.map((w) => w.ready));
    } catch (err) {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      throw err;
    }
    return new DecoderPool(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Decodes `points` split into one contiguous share per worker; results in the points' order. */
  async decodeAll(embedding: Embedding, points: readonly { x: number; y: number }[]): Promise<PointDecoding[]> {
    const n = this.workers.length;
    const share = Math.ceil(points.length / n);
    const parts = await Promise.all(
      this.workers.map((w, i) => {
        const mine = points.slice(i * share, (i + 1) * share);
        return mine.length === 0 ? Promise.resolve([]) : w.decode(embedding, mine);
      }),
    );
    return parts.flat();
  }

  async release(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
