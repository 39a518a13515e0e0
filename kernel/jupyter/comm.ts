/**
 * Comms: long-lived, bidirectional channels between kernel objects and front-end objects
 * (ipywidgets is one user). Front ends send comm_open/comm_msg/comm_close on shell; the kernel
 * sends them on iopub. There are no replies; the kernel's busy/idle around each incoming message
 * is what tells the front end it was handled.
 */
import { randomUUID } from "node:crypto";
import type { CommLike, CommManagerLike, CommMessage, CommTargetHandler, SendOptions } from "./runtime.js";
import type { JsonObject, JupyterMessage } from "./wire.js";

export type CommMsgType = "comm_open" | "comm_msg" | "comm_close";

/** Sends a comm message on iopub, parented to whatever request is being handled. */
export type CommPublisher = (msgType: CommMsgType, content: JsonObject, options: SendOptions) => void;

export interface CommLogger {
  warn(...args: unknown[]): void;
}

function asObject(value: unknown): JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : {};
}

function commMessage(msg: JupyterMessage): CommMessage {
  return { data: asObject(msg.content.data), metadata: msg.metadata, buffers: msg.buffers, msgId: msg.header.msg_id };
}

class Comm implements CommLike {
  private readonly msgHandlers = new Set<(msg: CommMessage) => void | Promise<void>>();
  private readonly closeHandlers = new Set<(msg: CommMessage | null) => void>();
  private isClosed = false;

  constructor(
    readonly id: string,
    readonly targetName: string,
    private readonly publish: CommPublisher,
    private readonly forget: (id: string) => void,
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  send(data: JsonObject, options: SendOptions = {}): void {
    if (this.isClosed) {
      throw new Error(`comm ${this.id} (target '${this.targetName}') is closed; open a new one (e.g. create a new widget).`);
    }
    this.publish("comm_msg", { comm_id: this.id, data }, options);
  }

  close(data: JsonObject = {}, options: SendOptions = {}): void {
    if (this.isClosed) return;
    this.publish("comm_close", { comm_id: this.id, data }, options);
    this.closed_(null);
  }

  onMsg(handler: (msg: CommMessage) => void | Promise<void>): () => void {
    this.msgHandlers.add(handler);
    return () => this.msgHandlers.delete(handler);
  }

  onClose(handler: (msg: CommMessage | null) => void): () => void {
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  /** Runs every handler, even after one throws; the first error is rethrown for the kernel to report. */
  async deliver(msg: CommMessage): Promise<void> {
    let failure: { error: unknown } | undefined;
    for (const handler of [...this.msgHandlers]) {
      try {
        await handler(msg);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }

  closed_(msg: CommMessage | null): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.forget(this.id);
    let failure: { error: unknown } | undefined;
    for (const handler of [...this.closeHandlers]) {
      try {
        handler(msg);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }
}

export class CommManager implements CommManagerLike {
  private readonly comms = new Map<string, Comm>();
  private readonly targets = new Map<string, CommTargetHandler>();

  constructor(
    private readonly publish: CommPublisher,
    private readonly log: CommLogger,
  ) {}

  open(targetName: string, data: JsonObject = {}, options: SendOptions & { commId?: string } = {}): CommLike {
    const id = options.commId ?? randomUUID().replaceAll("-", "");
    if (this.comms.has(id)) throw new Error(`a comm with id ${id} is already open.`);
    const comm = this.create(id, targetName);
    this.publish("comm_open", { comm_id: id, target_name: targetName, data }, options);
    return comm;
  }

  registerTarget(name: string, handler: CommTargetHandler): () => void {
    this.targets.set(name, handler);
    return () => {
      if (this.targets.get(name) === handler) this.targets.delete(name);
    };
  }

  get(commId: string): CommLike | undefined {
    return this.comms.get(commId);
  }

  /** comm_info_reply content: every open comm, or those of one target. */
  info(targetName?: string): Record<string, { target_name: string }> {
    const out: Record<string, { target_name: string }> = {};
    for (const comm of this.comms.values()) {
      if (targetName === undefined || comm.targetName === targetName) out[comm.id] = { target_name: comm.targetName };
    }
    return out;
  }

  /** comm_open from a front end. Unknown targets get comm_close, as the messaging spec asks. */
  async handleOpen(msg: JupyterMessage): Promise<void> {
    const id = msg.content.comm_id;
    const targetName = msg.content.target_name;
    if (typeof id !== "string" || typeof targetName !== "string") {
      throw new Error("comm_open without a string comm_id and target_name");
    }
    const handler = this.targets.get(targetName);
    if (!handler) {
      this.log.warn(`comm_open for unknown target '${targetName}' (comm ${id}); answering with comm_close`);
      this.publish("comm_close", { comm_id: id, data: {} }, {});
      return;
    }
    if (this.comms.has(id)) throw new Error(`comm_open for comm ${id}, which is already open`);
    const comm = this.create(id, targetName);
    try {
      await handler(comm, commMessage(msg));
    } catch (err) {
      // A target that failed to set up the comm leaves nothing half-open behind.
      comm.close();
      throw err;
    }
  }

  async handleMsg(msg: JupyterMessage): Promise<void> {
    const comm = this.comms.get(String(msg.content.comm_id));
    if (!comm) {
      this.log.warn(`comm_msg for unknown comm ${String(msg.content.comm_id)}; ignored`);
      return;
    }
    await comm.deliver(commMessage(msg));
  }

  handleClose(msg: JupyterMessage): void {
    const comm = this.comms.get(String(msg.content.comm_id));
    if (!comm) {
      this.log.warn(`comm_close for unknown comm ${String(msg.content.comm_id)}; ignored`);
      return;
    }
    comm.closed_(commMessage(msg));
  }

  private create(id: string, targetName: string): Comm {
    const comm = new Comm(id, targetName, this.publish, (gone) => this.comms.delete(gone));
    this.comms.set(id, comm);
    return comm;
  }
}
