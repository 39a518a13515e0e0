/**
 * A kernel runtime with no front end: comms that lead nowhere. A canvas built on it runs the
 * same engine (history, decoder loop, embedder, dispatcher) in plain Node, which is how a
 * recorded session is replayed on another model (replay.ts) without a notebook.
 */
import { RUNTIME_VERSION, type CommLike, type CommMessage, type KernelRuntime, type WidgetRecord } from "../../../kernel/jupyter/runtime.js";

let nextComm = 0;

class DetachedComm implements CommLike {
  closed = false;
  private readonly closeHandlers = new Set<(msg: CommMessage | null) => void>();

  constructor(
    readonly id: string,
    readonly targetName: string,
  ) {}

  send(): void {
    if (this.closed) throw new Error(`comm ${this.id} is closed`);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.closeHandlers) h(null);
  }
  onMsg(): () => void {
    return () => undefined;
  }
  onClose(handler: (msg: CommMessage | null) => void): () => void {
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }
}

/** A runtime whose widgets have no views; `display` and `clearOutput` do nothing. */
export function detachedRuntime(): KernelRuntime {
  const comms = new Map<string, DetachedComm>();
  const widgets = new Map<string, WidgetRecord>();
  return {
    version: RUNTIME_VERSION,
    comms: {
      open(targetName, _data, options) {
        const comm = new DetachedComm(options?.commId ?? `detached-${++nextComm}`, targetName);
        comms.set(comm.id, comm);
        return comm;
      },
      registerTarget: () => () => undefined,
      get: (id) => comms.get(id),
    },
    widgets: {
      add: (w) => void widgets.set(w.modelId, w),
      remove: (id) => void widgets.delete(id),
      all: () => [...widgets.values()],
    },
    display: () => undefined,
    clearOutput: () => undefined,
    interruptSignal: new AbortController().signal,
  };
}
