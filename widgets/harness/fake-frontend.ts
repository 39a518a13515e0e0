/**
 * A widget front end without a browser: an in-process KernelRuntime whose comms deliver the
 * kernel's messages to a model mirror here, and whose `frontend*` methods send what a view
 * would send (custom actions, state updates), through the real Widget message handling.
 *
 * Messages go through a JSON round trip and buffers are copied, as on the wire, so nothing
 * can pass by reference that a real front end would not see.
 */
import type {
  CommLike,
  CommManagerLike,
  CommMessage,
  CommTargetHandler,
  KernelRuntime,
  MimeBundle,
  SendOptions,
  WidgetRecord,
  WidgetRegistryLike,
} from "../../kernel/jupyter/runtime.js";
import { putBuffers, removeBuffers } from "../../kernel/jupyter/widgets/buffers.js";
import type { JsonObject } from "../../kernel/jupyter/wire.js";

export interface SentMessage {
  commId: string;
  kind: "open" | "msg" | "close";
  data: JsonObject;
  buffers: Uint8Array[];
}

function copyBuffers(buffers: SendOptions["buffers"]): Uint8Array[] {
  return (buffers ?? []).map((b) => {
    const v = ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b);
    return v.slice();
  });
}

class FakeComm implements CommLike {
  closed = false;
  private handlers = new Set<(msg: CommMessage) => void | Promise<void>>();
  private closeHandlers = new Set<(msg: CommMessage | null) => void>();

  constructor(
    readonly id: string,
    readonly targetName: string,
    private readonly out: (m: SentMessage) => void,
  ) {}

  send(data: JsonObject, options: SendOptions = {}): void {
    if (this.closed) throw new Error(`comm ${this.id} is closed`);
    this.out({ commId: this.id, kind: "msg", data: JSON.parse(JSON.stringify(data)), buffers: copyBuffers(options.buffers) });
  }
  close(data: JsonObject = {}): void {
    if (this.closed) return;
    this.closed = true;
    this.out({ commId: this.id, kind: "close", data, buffers: [] });
    for (const h of this.closeHandlers) h(null);
  }
  onMsg(handler: (msg: CommMessage) => void | Promise<void>): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }
  onClose(handler: (msg: CommMessage | null) => void): () => void {
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }
  async deliver(data: JsonObject, buffers: Uint8Array[]): Promise<void> {
    const msg: CommMessage = { data: JSON.parse(JSON.stringify(data)), metadata: {}, buffers: buffers.map((b) => b.slice()), msgId: `m${Math.random()}` };
    for (const h of this.handlers) await h(msg);
  }
}

/** What a front end knows of one widget model: the state after every message from the kernel. */
export class ModelMirror {
  state: Record<string, unknown> = {};
  readonly received: SentMessage[] = [];

  apply(m: SentMessage): void {
    this.received.push(m);
    const data = m.data as { method?: string; state?: Record<string, unknown>; buffer_paths?: unknown };
    const state = m.kind === "open" ? (m.data.state as Record<string, unknown>) : data.method === "update" || data.method === "echo_update" ? data.state : undefined;
    if (!state) return;
    const copy = structuredClone(state);
    putBuffers(copy, (m.kind === "open" ? m.data.buffer_paths : data.buffer_paths) ?? [], m.buffers);
    Object.assign(this.state, copy);
  }

  /** Custom messages from the kernel, in order. */
  customs(): unknown[] {
    return this.received.filter((m) => m.kind === "msg" && (m.data as { method?: string }).method === "custom").map((m) => m.data.content);
  }
}

export class FakeFrontend {
  readonly sent: SentMessage[] = [];
  readonly displays: MimeBundle[] = [];
  readonly models = new Map<string, ModelMirror>();
  private readonly comms = new Map<string, FakeComm>();
  private nextId = 1;
  readonly interruptSignal: AbortSignal = new AbortController().signal;
  /** Errors thrown by the kernel side's message handlers (a real kernel would log them). */
  readonly handlerErrors: unknown[] = [];

  readonly widgets: WidgetRegistryLike = (() => {
    const records = new Map<string, WidgetRecord>();
    return {
      add: (w: WidgetRecord) => void records.set(w.modelId, w),
      remove: (id: string) => void records.delete(id),
      all: () => [...records.values()],
    };
  })();

  readonly commManager: CommManagerLike = {
    open: (targetName, data = {}, options = {}) => {
      const id = options.commId ?? `comm${this.nextId++}`;
      const comm = new FakeComm(id, targetName, (m) => this.receive(m));
      this.comms.set(id, comm);
      this.receive({ commId: id, kind: "open", data: JSON.parse(JSON.stringify(data)), buffers: copyBuffers(options.buffers) });
      return comm;
    },
    registerTarget: (_name: string, _handler: CommTargetHandler) => () => {},
    get: (id) => this.comms.get(id),
  };

  /** The kernel side's handle: pass as `runtime` to widgets. */
  readonly runtime: KernelRuntime = {
    version: 1,
    comms: this.commManager,
    widgets: this.widgets,
    display: (bundle: MimeBundle) => void this.displays.push(bundle),
    clearOutput: () => {},
    interruptSignal: this.interruptSignal,
  };

  private receive(m: SentMessage): void {
    this.sent.push(m);
    let mirror = this.models.get(m.commId);
    if (!mirror) {
      mirror = new ModelMirror();
      this.models.set(m.commId, mirror);
    }
    mirror.apply(m);
  }

  model(id: string): ModelMirror {
    const m = this.models.get(id);
    if (!m) throw new Error(`no widget ${id}`);
    return m;
  }

  /** A front end's `model.send(content, ..., buffers)`. */
  async frontendCustom(id: string, content: unknown, buffers: Uint8Array[] = []): Promise<void> {
    await this.deliver(id, { method: "custom", content } as JsonObject, buffers);
  }

  /** A front end's `model.set(...); model.save_changes()`. */
  async frontendUpdate(id: string, state: Record<string, unknown>): Promise<void> {
    const { state: wire, buffer_paths, buffers } = removeBuffers(state);
    await this.deliver(id, { method: "update", state: wire, buffer_paths } as JsonObject, buffers);
  }

  async frontendRequestState(id: string): Promise<void> {
    await this.deliver(id, { method: "request_state" }, []);
  }

  /** Any raw comm message, e.g. a malformed one. */
  async deliver(id: string, data: JsonObject, buffers: Uint8Array[]): Promise<void> {
    const comm = this.comms.get(id);
    if (!comm) throw new Error(`no comm ${id}`);
    try {
      await comm.deliver(data, buffers);
    } catch (err) {
      this.handlerErrors.push(err);
    }
  }
}

