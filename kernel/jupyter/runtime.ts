/**
 * How library code (widgets, displays) reaches the running kernel.
 *
 * The kernel puts one object on `globalThis` under a registered symbol. A symbol rather than a
 * module-level singleton, because a notebook may load a second copy of this package (an
 * `npm install` beside the notebook): both copies must talk to the one kernel. The shapes below
 * are plain interfaces for the same reason; `version` lets a copy refuse an incompatible kernel.
 */
import type { JsonObject } from "./wire.js";

export const KERNEL_RUNTIME_KEY: unique symbol = Symbol.for("medicosam.jupyter.kernel");
export const RUNTIME_VERSION = 1;

/** A Jupyter mime bundle: mime type -> string, JSON value, or bytes (encoded as base64 on the wire). */
export type MimeBundle = Record<string, unknown>;

export interface CommMessage {
  data: JsonObject;
  metadata: JsonObject;
  buffers: Uint8Array[];
  /** msg_id of the Jupyter message that carried it (useful for logs and tests). */
  msgId: string;
}

export interface SendOptions {
  metadata?: JsonObject;
  buffers?: readonly (ArrayBuffer | ArrayBufferView)[];
}

export interface CommLike {
  readonly id: string;
  readonly targetName: string;
  readonly closed: boolean;
  send(data: JsonObject, options?: SendOptions): void;
  close(data?: JsonObject, options?: SendOptions): void;
  /** Returns a function that removes the handler. */
  onMsg(handler: (msg: CommMessage) => void | Promise<void>): () => void;
  /** `msg` is null when the kernel side closed the comm. */
  onClose(handler: (msg: CommMessage | null) => void): () => void;
}

export type CommTargetHandler = (comm: CommLike, open: CommMessage) => void | Promise<void>;

export interface CommManagerLike {
  /** Opens a comm from the kernel (sends comm_open on iopub). */
  open(targetName: string, data?: JsonObject, options?: SendOptions & { commId?: string }): CommLike;
  /** Accepts comms the front end opens to `name`. Unknown targets are answered with comm_close. */
  registerTarget(name: string, handler: CommTargetHandler): () => void;
  get(commId: string): CommLike | undefined;
}

/** What the `jupyter.widget.control` comm needs from each live widget. */
export interface WidgetRecord {
  readonly modelId: string;
  /** `{model_name, model_module, model_module_version, state}` with binary values left in place. */
  fullState(): { model_name: string; model_module: string; model_module_version: string; state: Record<string, unknown> };
}

export interface WidgetRegistryLike {
  add(widget: WidgetRecord): void;
  remove(modelId: string): void;
  all(): WidgetRecord[];
}

export interface DisplayOptions {
  metadata?: JsonObject;
  /** Makes the output updatable: later calls with `update: true` and the same id replace it. */
  displayId?: string;
  update?: boolean;
}

export interface KernelRuntime {
  readonly version: number;
  readonly comms: CommManagerLike;
  readonly widgets: WidgetRegistryLike;
  /** Sends display_data (or update_display_data) to the output of the current cell. */
  display(bundle: MimeBundle, options?: DisplayOptions): void;
  clearOutput(wait?: boolean): void;
  /**
   * Aborted when the user interrupts the cell this call runs under. Long work (an encoder in a
   * worker) listens to it to stop early; code outside any cell gets a signal that never aborts.
   */
  readonly interruptSignal: AbortSignal;
}

type GlobalWithRuntime = typeof globalThis & { [KERNEL_RUNTIME_KEY]?: KernelRuntime };

/** The running kernel, or undefined outside the MedicoSAM kernel (plain Node, tests, another kernel). */
export function maybeKernelRuntime(): KernelRuntime | undefined {
  const runtime = (globalThis as GlobalWithRuntime)[KERNEL_RUNTIME_KEY];
  if (runtime && runtime.version !== RUNTIME_VERSION) {
    throw new Error(
      `this copy of the MedicoSAM package speaks kernel runtime ${RUNTIME_VERSION}, the running kernel speaks ${runtime.version}: ` +
        "import the package the kernel runs from (remove a separate `npm install` beside the notebook) or reinstall the kernel with `medicosam install`.",
    );
  }
  return runtime;
}

/** The running kernel; throws with the fix when called anywhere else. */
export function kernelRuntime(): KernelRuntime {
  const runtime = maybeKernelRuntime();
  if (!runtime) {
    throw new Error(
      "this needs the MedicoSAM Jupyter kernel, but the code is not running inside it: " +
        "run `medicosam install`, start Jupyter and pick the kernel 'MedicoSAM (TypeScript)'. " +
        "(Widgets and rich display do not work under plain node or another kernel such as tslab.)",
    );
  }
  return runtime;
}

/** Kernel side only. */
export function installKernelRuntime(runtime: KernelRuntime | undefined): void {
  (globalThis as GlobalWithRuntime)[KERNEL_RUNTIME_KEY] = runtime;
}
