/**
 * The kernel's handle on the encoder process (encoder-process.ts). Requests are answered in
 * order; cancel() kills the process (the only way to stop a running session.run) and the next
 * request starts a fresh one.
 */
import { fork, type ChildProcess, type StdioOptions } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { RgbImage8, Size2D } from "../io/image.js";
import type { EncoderSettings, FromEncoder, ToEncoder } from "./encoder-protocol.js";
import { samSessionOptions } from "./session-options.js";
import type { Device, SessionDevice } from "./device.js";
import { DeviceUnavailableError } from "./device-diagnosis.js";

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
  started?: () => void;
}

export interface EncoderRequestOptions {
  /** `rgb` is already resized (resizeForEncoder) from an image of this size. */
  readonly originalSize?: Size2D;
  /** Called when the encoder process has read the request and begins it. */
  readonly onStarted?: () => void;
}

/**
 * Forks encoder-process next to this module: .js when compiled; under vitest this module is
 * .ts and the child gets tsx's loader. Advanced serialization carries typed arrays as such.
 */
function startEncoderProcess(): ChildProcess {
  const self = import.meta.url;
  const options = { serialization: "advanced" as const, stdio: ["ignore", "inherit", "inherit", "ipc"] as StdioOptions };
  if (!self.endsWith(".ts")) return fork(fileURLToPath(new URL("./encoder-process.js", self)), [], { ...options, execArgv: [] });
  const tsx = import.meta.resolve("tsx");
  return fork(fileURLToPath(new URL("./encoder-process.ts", self)), [], { ...options, execArgv: ["--import", tsx] });
}

export class EncoderProcess {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Counts cancel() calls, so that calls waiting for a (re)start know they were cancelled. */
  private cancels = 0;
  /** Where the session runs, known once loaded (`auto` resolved). */
  device: SessionDevice | undefined;
  /** For `auto`: which device runs and why (from the first load). */
  notice: string | undefined;

  constructor(
    readonly path: string,
    private readonly sessionOptions: Record<string, unknown> = { ...samSessionOptions() },
    /**
     * What the process loads on. After an `auto` load it becomes the device found, so that a
     * restart (after a cancel) does not probe again and cannot land elsewhere.
     */
    private requestedDevice: Device = "cpu",
  ) {}

  /** The encoder process's pid while it runs (benchmarks add its memory and CPU time). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process and loads the session; rejects with the contract error if the model is wrong. */
  load(): Promise<void> {
    if (this.ready) return this.ready;
    const child = startEncoderProcess();
    this.child = child;
    this.ready = new Promise<void>((resolve, reject) => {
      child.on("message", (msg: FromEncoder) => {
        if (msg.type === "loaded") {
          this.device = msg.device;
          this.requestedDevice = msg.device;
          this.notice ??= msg.notice;
          resolve();
        } else if (msg.type === "load-error") {
          const u = msg.unavailable;
          reject(u ? new DeviceUnavailableError(u.device, u.problem, u.onnxruntimeMessage) : new Error(msg.message));
        }
        else this.settle(msg);
      });
      child.on("error", (err) => {
        reject(err);
        this.failAll(err);
      });
      child.on("exit", (code, signal) => {
        if (this.child === child) {
          this.child = undefined;
          this.ready = undefined;
        }
        const how = signal ? `signal ${signal}` : `code ${code}`;
        // We kill it only in dispose()/cancel(), which have already settled every request; an
        // exit that reaches a request is unexpected, and SIGKILL is then almost always the
        // kernel's out-of-memory killer (the ViT-B encoder peaks at about 4 GB).
        const hint =
          signal === "SIGKILL"
            ? " It was probably out of memory (the ViT-B encoder needs about 4 GB): close other kernels, or load the model with precision 'int8'."
            : "";
        const err = new Error(`the encoder process exited unexpectedly (${how}).${hint} The next embed() starts a new one.`);
        reject(err);
        this.failAll(err);
      });
      const load: ToEncoder = { type: "load", path: this.path, sessionOptions: this.sessionOptions, device: this.requestedDevice };
      child.send(load);
    });
    // Failed loads must not be cached: the next call retries (e.g. after the file is fixed).
    this.ready.catch(() => {
      void this.dispose();
    });
    return this.ready;
  }

  async embed(rgb: RgbImage8, settings: EncoderSettings, request: EncoderRequestOptions = {}): Promise<EncoderOutput> {
    // A cancel() while this call still waits for the process to (re)start cancels it too.
    const generation = this.cancels;
    try {
      await this.load();
    } catch (err) {
      if (generation !== this.cancels) throw new EncoderCancelledError();
      throw err;
    }
    if (generation !== this.cancels) throw new EncoderCancelledError();
    const id = this.nextId++;
    // IPC serializes a view's whole buffer: send exactly the image (e.g. one slice of a volume).
    const tight = rgb.data.byteOffset === 0 && rgb.data.byteLength === rgb.data.buffer.byteLength;
    const pixels = tight ? rgb.data : new Uint8Array(rgb.data);
    return new Promise<EncoderOutput>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(request.onStarted ? { started: request.onStarted } : {}) });
      const msg: ToEncoder = {
        type: "embed",
        id,
        rgb: pixels,
        width: rgb.width,
        height: rgb.height,
        settings,
        ...(request.originalSize ? { originalSize: request.originalSize } : {}),
      };
      this.child!.send(msg);
    });
  }

  /** Stops whatever runs now; pending requests reject with EncoderCancelledError. */
  async cancel(): Promise<void> {
    this.cancels++;
    const err = new EncoderCancelledError();
    const pending = [...this.pending.values()];
    this.pending.clear();
    await this.dispose();
    for (const p of pending) p.reject(err);
  }

  /** Kills the process (at once, even mid-run) and waits until it is gone. */
  async dispose(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    this.ready = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }

  private settle(msg: FromEncoder): void {
    if (msg.type === "started") {
      this.pending.get(msg.id)?.started?.();
      return;
    }
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
