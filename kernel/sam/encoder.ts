/**
 * Main-thread handle on the encoder worker. Requests are answered in order; cancel()
 * terminates the worker (the only way to stop a running session.run) and the next request
 * starts a fresh one.
 */
import { Worker } from "node:worker_threads";
import type { RgbImage8, Size2D } from "../io/image.js";
import type { EncoderSettings, FromWorker, ToWorker } from "./encoder-protocol.js";

/**
 * Measured on 2 cores (shared/spec/performance.md): without the memory-pattern planner the
 * ViT-B encoder ran in 3.14 s instead of 3.3-3.4 s and peaked at 4.3 GB instead of 7.4 GB
 * (here: 3.9 GB vs 7.1 GB). Without spinning threads it ran 10.3 s instead of 11.0 s next to
 * another busy process (`npm run bench -- --only options`), and left the decoder its core.
 */
export const ENCODER_SESSION_OPTIONS: Record<string, unknown> = {
  enableMemPattern: false,
  graphOptimizationLevel: "all",
  extra: { session: { intra_op: { allow_spinning: "0" } } },
};

export interface EncoderOutput {
  readonly data: Float32Array;
  readonly resizedSize: Size2D;
  readonly preprocessMs: number;
  readonly encoderMs: number;
}

export class EncoderCancelledError extends Error {
  override name = "EncoderCancelledError";
  constructor() {
    super("the encoder was cancelled (interrupted) before it finished.");
  }
}

interface Pending {
  resolve(out: EncoderOutput): void;
  reject(err: Error): void;
}

/**
 * Starts the worker file next to this one: .js when compiled; under vitest this module is
 * .ts, and the worker gets tsx's loader first (a worker does not inherit the test runner's).
 */
function startWorker(): Worker {
  const self = import.meta.url;
  if (!self.endsWith(".ts")) return new Worker(new URL("./encoder-worker.js", self));
  const target = new URL("./encoder-worker.ts", self).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => m.register()).then(() => import(${JSON.stringify(target)}));`, {
    eval: true,
  });
}

export class EncoderWorker {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(
    readonly path: string,
    private readonly sessionOptions: Record<string, unknown> = ENCODER_SESSION_OPTIONS,
  ) {}

  /** Starts the worker and loads the session; rejects with the contract error if the model is wrong. */
  load(): Promise<void> {
    if (this.ready) return this.ready;
    const worker = startWorker();
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (msg: FromWorker): void => {
        if (msg.type === "loaded") resolve();
        else if (msg.type === "load-error") reject(new Error(msg.message));
        else this.settle(msg);
      };
      worker.on("message", onMessage);
      worker.on("error", (err) => {
        reject(err);
        this.failAll(err);
      });
      worker.on("exit", (code) => {
        if (this.worker === worker) {
          this.worker = undefined;
          this.ready = undefined;
        }
        const err = new Error(`the encoder worker exited (code ${code}); the next request starts a new one.`);
        reject(err);
        this.failAll(err);
      });
      const load: ToWorker = { type: "load", path: this.path, sessionOptions: this.sessionOptions };
      worker.postMessage(load);
    });
    // Failed loads must not be cached: the next call retries (e.g. after the file is fixed).
    this.ready.catch(() => {
      void this.dispose();
    });
    return this.ready;
  }

  async embed(rgb: RgbImage8, settings: EncoderSettings): Promise<EncoderOutput> {
    await this.load();
    const id = this.nextId++;
    const copy = new Uint8Array(rgb.data); // transferred to the worker; the caller keeps its pixels
    return new Promise<EncoderOutput>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const msg: ToWorker = { type: "embed", id, rgb: copy, width: rgb.width, height: rgb.height, settings };
      this.worker!.postMessage(msg, [copy.buffer]);
    });
  }

  /** Stops whatever runs now; pending requests reject with EncoderCancelledError. */
  async cancel(): Promise<void> {
    const err = new EncoderCancelledError();
    const pending = [...this.pending.values()];
    this.pending.clear();
    await this.dispose();
    for (const p of pending) p.reject(err);
  }

  async dispose(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.ready = undefined;
    if (worker) await worker.terminate();
  }

  private settle(msg: FromWorker): void {
    if (msg.type !== "embedded" && msg.type !== "embed-error") return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.type === "embed-error") p.reject(new Error(msg.message));
    else p.resolve({ data: msg.data, resizedSize: msg.resizedSize, preprocessMs: msg.preprocessMs, encoderMs: msg.encoderMs });
  }

  private failAll(err: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
  }
}
