/**
 * A minimal Jupyter client over real ZMQ sockets, for driving the kernel process in tests.
 * It signs with the same wire code the kernel uses, and can also send raw frames (bad
 * signatures, broken JSON) that a real client never would.
 */
import { randomUUID } from "node:crypto";
import { Dealer, Request, Subscriber } from "zeromq";
import { endpoint, type ConnectionInfo } from "../../../kernel/jupyter/connection.js";
import { decodeMessage, encodeMessage, PROTOCOL_VERSION, Signer, type JsonObject, type JupyterMessage } from "../../../kernel/jupyter/wire.js";

export type Msg = JupyterMessage;

interface Waiter {
  pred: (m: Msg) => boolean;
  resolve: (m: Msg) => void;
}

/** Messages of one socket, kept in arrival order, with waiting on a predicate. */
class Inbox {
  readonly all: Msg[] = [];
  private waiters: Waiter[] = [];

  push(m: Msg): void {
    this.all.push(m);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(m)) return true;
      w.resolve(m);
      return false;
    });
  }

  wait(pred: (m: Msg) => boolean, timeoutMs: number, what: string): Promise<Msg> {
    const found = this.all.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter: Waiter = {
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.waiters.push(waiter);
    });
  }
}

export interface SendOpts {
  buffers?: Uint8Array[];
  metadata?: JsonObject;
}

export class KernelClient {
  readonly signer: Signer;
  readonly session = randomUUID();
  readonly shell = new Dealer({ routingId: `shell-${randomUUID()}` });
  readonly control = new Dealer({ routingId: `control-${randomUUID()}` });
  readonly iopub = new Subscriber();
  readonly hb = new Request();
  readonly shellIn = new Inbox();
  readonly controlIn = new Inbox();
  readonly iopubIn = new Inbox();
  private closed = false;

  constructor(readonly info: ConnectionInfo) {
    this.signer = new Signer(info.key, info.signature_scheme);
    for (const s of [this.shell, this.control, this.iopub, this.hb]) s.linger = 0;
    this.shell.connect(endpoint(info, "shell"));
    this.control.connect(endpoint(info, "control"));
    this.iopub.connect(endpoint(info, "iopub"));
    this.iopub.subscribe();
    this.hb.connect(endpoint(info, "hb"));
    this.hb.receiveTimeout = 2000;
    void this.pump(this.shell, this.shellIn);
    void this.pump(this.control, this.controlIn);
    void this.pump(this.iopub, this.iopubIn);
  }

  private async pump(socket: AsyncIterable<Buffer[]>, inbox: Inbox): Promise<void> {
    try {
      for await (const frames of socket) inbox.push(decodeMessage(frames, this.signer));
    } catch (err) {
      if (!this.closed) throw err;
    }
  }

  message(msgType: string, content: JsonObject, opts: SendOpts = {}): Msg {
    return {
      identities: [],
      header: {
        msg_id: randomUUID(),
        session: this.session,
        username: "test",
        date: new Date().toISOString(),
        msg_type: msgType,
        version: PROTOCOL_VERSION,
      },
      parent_header: {},
      metadata: opts.metadata ?? {},
      content,
      buffers: opts.buffers ?? [],
    };
  }

  async send(channel: "shell" | "control", msgType: string, content: JsonObject, opts: SendOpts = {}): Promise<Msg> {
    const msg = this.message(msgType, content, opts);
    await this[channel].send(encodeMessage(msg, this.signer));
    return msg;
  }

  async sendRaw(channel: "shell" | "control", frames: Buffer[]): Promise<void> {
    await this[channel].send(frames);
  }

  reply(msg: Msg, timeoutMs = 20_000, channel: "shell" | "control" = "shell"): Promise<Msg> {
    const inbox = channel === "shell" ? this.shellIn : this.controlIn;
    return inbox.wait((m) => m.parent_header.msg_id === msg.header.msg_id, timeoutMs, `the reply to ${msg.header.msg_type}`);
  }

  iopubFor(msg: Msg): Msg[] {
    return this.iopubIn.all.filter((m) => m.parent_header.msg_id === msg.header.msg_id);
  }

  waitIopub(pred: (m: Msg) => boolean, what: string, timeoutMs = 20_000): Promise<Msg> {
    return this.iopubIn.wait(pred, timeoutMs, what);
  }

  /** Resolves when the kernel published idle for `msg`; returns every iopub message parented to it. */
  async idle(msg: Msg, timeoutMs = 20_000): Promise<Msg[]> {
    await this.waitIopub(
      (m) => m.parent_header.msg_id === msg.header.msg_id && m.header.msg_type === "status" && m.content.execution_state === "idle",
      `idle for ${msg.header.msg_type}`,
      timeoutMs,
    );
    return this.iopubFor(msg);
  }

  /** Runs a cell; resolves with its reply and iopub output (busy..idle). */
  async execute(code: string, extra: JsonObject = {}, timeoutMs = 30_000): Promise<{ msg: Msg; reply: Msg; iopub: Msg[] }> {
    const msg = await this.send("shell", "execute_request", {
      code,
      silent: false,
      store_history: true,
      user_expressions: {},
      allow_stdin: false,
      stop_on_error: true,
      ...extra,
    });
    const reply = await this.reply(msg, timeoutMs);
    const iopub = await this.idle(msg, timeoutMs);
    return { msg, reply, iopub };
  }

  /**
   * ZMQ subscriptions take a moment to reach the publisher ("slow joiner"): repeat
   * kernel_info_request until its busy/idle is seen on iopub.
   */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const msg = await this.send("shell", "kernel_info_request", {});
      try {
        await this.idle(msg, 500);
        return;
      } catch {
        // not subscribed yet
      }
    }
    throw new Error("the kernel never answered kernel_info_request on shell with status on iopub");
  }

  async heartbeat(payload = "ping"): Promise<string> {
    await this.hb.send(payload);
    const [echo] = await this.hb.receive();
    return echo!.toString();
  }

  close(): void {
    this.closed = true;
    for (const s of [this.shell, this.control, this.iopub, this.hb]) s.close();
  }
}

/** Text of every stream message of `name` in `msgs`. */
export function streamText(msgs: Msg[], name: "stdout" | "stderr"): string {
  return msgs
    .filter((m) => m.header.msg_type === "stream" && m.content.name === name)
    .map((m) => String(m.content.text))
    .join("");
}

export function ofType(msgs: Msg[], type: string): Msg[] {
  return msgs.filter((m) => m.header.msg_type === type);
}
