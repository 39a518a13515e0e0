/**
 * The Jupyter protocol server (the `Kernel` class): ZMQ sockets, dispatch, and the rules that make
 * front ends happy.
 *
 * - Every shell and control message gets busy/idle on iopub with it as parent; the widget
 *   front end holds further updates until that idle arrives.
 * - Cells (execute_request) run one at a time on their own queue; every other shell message
 *   (comm traffic, completion, comm_info) is handled while a cell awaits, so a widget stays
 *   live during long work, and control (interrupt, shutdown) is never stuck behind a cell.
 * - AsyncLocalStorage remembers which request the running code belongs to: output, displays
 *   and comm messages are parented to it (echo_update to the front end's update, etc.).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createRequire } from "node:module";
import { inspect } from "node:util";
import { Publisher, Router } from "zeromq";
import { CommManager } from "./comm.js";
import { endpoint, type ConnectionInfo } from "./connection.js";
import { encodeBundle, resultBundle } from "./display.js";
import { CellRunner, describeError, tslabVersions, type CellError } from "./execute.js";
import { Heartbeat } from "./heartbeat.js";
import type { KernelLog } from "./log.js";
import { installKernelRuntime, RUNTIME_VERSION, type DisplayOptions, type KernelRuntime, type MimeBundle } from "./runtime.js";
import { SendQueue } from "./send-queue.js";
import { Session, type OutgoingOptions } from "./session.js";
import { OutputStreams, type StreamName } from "./streams.js";
import { registerWidgetControl, WidgetRegistry } from "./widgets/control.js";
import { decodeMessage, encodeMessage, Signer, WireError, type JsonObject, type JupyterMessage } from "./wire.js";

const require = createRequire(import.meta.url);

export interface KernelOptions {
  connection: ConnectionInfo;
  log: KernelLog;
  /** Folder the cells run in (Jupyter starts the kernel in the notebook's folder). */
  cwd: string;
  implementationVersion: string;
  /** Called after shutdown_request was answered and the sockets are closed. */
  onShutdown?: (restart: boolean) => void;
}

/** The request some code runs on behalf of. */
interface RequestContext {
  parent: JupyterMessage;
  interrupt: AbortController;
  /** execute contexts: false once the cell has finished. */
  running: boolean;
  kind: "execute" | "other";
}

type Channel = "shell" | "control";

const NEVER_ABORTED = new AbortController().signal;

export class Kernel {
  private readonly session = new Session();
  private readonly signer: Signer;
  private readonly context = new AsyncLocalStorage<RequestContext>();
  private readonly shell = new Router();
  private readonly control = new Router();
  private readonly stdin = new Router();
  private readonly iopub = new Publisher();
  private readonly queues: Record<Channel | "iopub", SendQueue>;
  private heartbeat?: Heartbeat;
  private readonly runner: CellRunner;
  readonly comms: CommManager;
  readonly widgets = new WidgetRegistry();
  private readonly streams: OutputStreams;
  private executionCount = 0;
  private readonly executeQueue: JupyterMessage[] = [];
  private executing = false;
  private currentExecution?: RequestContext;
  private lastExecution?: RequestContext;
  private shellChain: Promise<void> = Promise.resolve();
  private stopping = false;

  private constructor(private readonly options: KernelOptions) {
    this.signer = new Signer(options.connection.key, options.connection.signature_scheme);
    const onSendError = (err: unknown) => options.log.error("send failed:", err);
    this.queues = {
      shell: new SendQueue(this.shell, onSendError),
      control: new SendQueue(this.control, onSendError),
      iopub: new SendQueue(this.iopub, onSendError),
    };
    for (const socket of [this.shell, this.control, this.stdin, this.iopub]) socket.linger = 1000;
    this.streams = new OutputStreams((parent, name, text) => this.send("iopub", "stream", { name, text }, parent));
    this.comms = new CommManager((msgType, content, sendOptions) => this.publish(msgType, content, sendOptions), options.log);
    registerWidgetControl(this.comms, this.widgets);
    this.runner = new CellRunner(options.cwd);
  }

  static async start(options: KernelOptions): Promise<Kernel> {
    const kernel = new Kernel(options);
    await kernel.bind();
    kernel.installRuntime();
    kernel.redirectOutput();
    kernel.publishStatus("starting", undefined);
    return kernel;
  }

  private async bind(): Promise<void> {
    const info = this.options.connection;
    await Promise.all([
      this.shell.bind(endpoint(info, "shell")),
      this.control.bind(endpoint(info, "control")),
      this.stdin.bind(endpoint(info, "stdin")),
      this.iopub.bind(endpoint(info, "iopub")),
    ]);
    this.heartbeat = await Heartbeat.start(endpoint(info, "hb"));
    void this.listen(this.shell, "shell");
    void this.listen(this.control, "control");
    this.options.log.info(`listening: ${JSON.stringify({ ...info, key: "<hidden>" })}`);
  }

  private async listen(socket: Router, channel: Channel): Promise<void> {
    try {
      for await (const frames of socket) this.receive(frames, channel);
    } catch (err) {
      if (!this.stopping) this.options.log.error(`${channel} socket failed:`, err);
    }
  }

  // ---- incoming ------------------------------------------------------------------------------

  private receive(frames: Buffer[], channel: Channel): void {
    let msg: JupyterMessage;
    try {
      msg = decodeMessage(frames, this.signer);
    } catch (err) {
      // Nothing can be answered without a trustworthy header: log and carry on.
      const why = err instanceof WireError ? `${err.kind}: ${err.message}` : String(err);
      this.options.log.warn(`rejected a ${channel} message (${why})`);
      return;
    }
    this.options.log.debug(`${channel} <- ${msg.header.msg_type} ${msg.header.msg_id}`);
    if (channel === "control") {
      void this.handle(msg, "control");
    } else if (msg.header.msg_type === "execute_request") {
      this.executeQueue.push(msg);
      if (!this.executing) void this.drainExecutions();
    } else {
      // In order among themselves (comm messages to one widget must not overtake each other),
      // but independent of the cell queue.
      this.shellChain = this.shellChain.then(() => this.handle(msg, "shell"));
    }
  }

  /** busy, the handler, idle, all under the request's context. */
  private handle(msg: JupyterMessage, channel: Channel, kind: RequestContext["kind"] = "other"): Promise<void> {
    const ctx: RequestContext = { parent: msg, interrupt: new AbortController(), running: true, kind };
    return this.context.run(ctx, async () => {
      this.publishStatus("busy", msg);
      try {
        await this.dispatch(msg, channel, ctx);
      } catch (err) {
        this.reportFailure(msg, channel, err);
      } finally {
        ctx.running = false;
        this.publishStatus("idle", msg);
      }
    });
  }

  private async dispatch(msg: JupyterMessage, channel: Channel, ctx: RequestContext): Promise<void> {
    const c = msg.content;
    switch (msg.header.msg_type) {
      case "execute_request":
        return this.execute(msg, ctx);
      case "kernel_info_request":
        return this.reply(channel, msg, "kernel_info_reply", this.kernelInfo());
      case "complete_request":
        return this.reply(channel, msg, "complete_reply", this.runner.complete(String(c.code ?? ""), Number(c.cursor_pos ?? 0)));
      case "inspect_request":
        return this.reply(
          channel,
          msg,
          "inspect_reply",
          this.runner.inspect(String(c.code ?? ""), Number(c.cursor_pos ?? 0), c.detail_level === 1 ? 1 : 0),
        );
      case "is_complete_request":
        return this.reply(channel, msg, "is_complete_reply", this.runner.isComplete(String(c.code ?? "")));
      case "history_request":
        // No history is kept; an empty answer is valid and lets front ends carry on.
        return this.reply(channel, msg, "history_reply", { status: "ok", history: [] });
      case "comm_info_request":
        return this.reply(channel, msg, "comm_info_reply", {
          status: "ok",
          comms: this.comms.info(typeof c.target_name === "string" ? c.target_name : undefined),
        });
      case "comm_open":
        return this.comms.handleOpen(msg);
      case "comm_msg":
        return this.comms.handleMsg(msg);
      case "comm_close":
        return this.comms.handleClose(msg);
      case "interrupt_request":
        this.interrupt();
        return this.reply(channel, msg, "interrupt_reply", { status: "ok" });
      case "shutdown_request":
        return this.shutdown(msg, channel, c.restart === true);
      default:
        this.options.log.warn(`unsupported message type '${msg.header.msg_type}' on ${channel}; ignored`);
    }
  }

  // ---- cells ---------------------------------------------------------------------------------

  private async drainExecutions(): Promise<void> {
    this.executing = true;
    try {
      for (let msg = this.executeQueue.shift(); msg; msg = this.executeQueue.shift()) {
        await this.handle(msg, "shell", "execute");
      }
    } finally {
      this.executing = false;
    }
  }

  private async execute(msg: JupyterMessage, ctx: RequestContext): Promise<void> {
    const c = msg.content;
    const code = typeof c.code === "string" ? c.code : "";
    const silent = c.silent === true;
    const storeHistory = silent ? false : c.store_history !== false;
    const stopOnError = c.stop_on_error !== false;
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    if (!silent) this.publish("execute_input", { code, execution_count: count });
    // Let busy and execute_input leave before the cell starts: synchronous code blocks the loop
    // that would send them, and the front end should show the cell as running meanwhile.
    await this.queues.iopub.drain();

    this.currentExecution = ctx;
    this.lastExecution = ctx;
    let failure: CellError | undefined;
    try {
      const outcome = await this.runner.run(code);
      if (outcome.status === "error") {
        failure = outcome.error;
      } else if (outcome.result && !silent) {
        try {
          const data = encodeBundle(await resultBundle(outcome.result.value));
          this.publish("execute_result", { execution_count: count, data, metadata: {} });
        } catch (err) {
          failure = describeError(err);
        }
      }
    } finally {
      this.currentExecution = undefined;
    }
    // Output written synchronously by the cell goes before its error and its reply.
    this.streams.flush();
    if (failure) {
      if (!silent) this.publish("error", { ...failure });
      this.reply("shell", msg, "execute_reply", { status: "error", execution_count: count, ...failure });
      if (stopOnError) await this.abortQueuedExecutions();
    } else {
      this.reply("shell", msg, "execute_reply", { status: "ok", execution_count: count, user_expressions: {}, payload: [] });
    }
  }

  /** After a failed cell, cells queued behind it are not run (Run All stops at the error). */
  private async abortQueuedExecutions(): Promise<void> {
    const queued = this.executeQueue.splice(0);
    for (const msg of queued) {
      await this.context.run({ parent: msg, interrupt: new AbortController(), running: false, kind: "other" }, async () => {
        this.publishStatus("busy", msg);
        this.reply("shell", msg, "execute_reply", { status: "aborted", execution_count: this.executionCount, user_expressions: {}, payload: [] });
        this.publishStatus("idle", msg);
      });
    }
  }

  /** Stops the running cell: its awaited promise is rejected and its interrupt signal fires. */
  interrupt(): void {
    const running = this.currentExecution;
    this.options.log.info(`interrupt (${running ? `cell ${running.parent.header.msg_id}` : "no cell running"})`);
    if (!running) return;
    running.interrupt.abort(new Error("interrupted"));
    this.runner.interrupt();
  }

  // ---- outgoing ------------------------------------------------------------------------------

  private send(channel: Channel | "iopub", msgType: string, content: unknown, parent: JupyterMessage | undefined, options: OutgoingOptions = {}) {
    const identities = channel === "iopub" ? [this.session.topic(msgType)] : (parent?.identities ?? []);
    const msg = this.session.message(msgType, content, parent, identities, options);
    this.options.log.debug(`${channel} -> ${msgType} (parent ${parent?.header.msg_id ?? "-"})`);
    return this.queues[channel].send(encodeMessage(msg, this.signer));
  }

  private reply(channel: Channel, parent: JupyterMessage, msgType: string, content: unknown): void {
    void this.send(channel, msgType, content, parent);
  }

  /**
   * The parent of output produced now: the request whose code is running. Output from a cell's
   * leftover callbacks (timers, promises that settle after it finished) goes to the latest
   * cell, as in ipykernel, because front ends forget finished requests.
   */
  private currentParent(): JupyterMessage | undefined {
    const ctx = this.context.getStore();
    if (ctx && (ctx.kind !== "execute" || ctx.running)) return ctx.parent;
    return this.lastExecution?.parent ?? ctx?.parent;
  }

  /** iopub, after any pending stream text of the same moment. */
  private publish(msgType: string, content: JsonObject, options: OutgoingOptions = {}, parent = this.currentParent()): void {
    this.streams.flush();
    void this.send("iopub", msgType, content, parent, options);
  }

  private publishStatus(state: "busy" | "idle" | "starting", parent: JupyterMessage | undefined): void {
    this.publish("status", { execution_state: state }, {}, parent);
  }

  private display(bundle: MimeBundle, options: DisplayOptions = {}): void {
    const transient = options.displayId ? { display_id: options.displayId } : {};
    if (options.update && !options.displayId) throw new Error("updating a display needs the displayId it was shown with.");
    this.publish(options.update ? "update_display_data" : "display_data", {
      data: encodeBundle(bundle),
      metadata: options.metadata ?? {},
      transient,
    });
  }

  /** A handler failed: the front end sees an `error` output under that request; the kernel goes on. */
  private reportFailure(msg: JupyterMessage, channel: Channel, err: unknown): void {
    const error = describeError(err);
    this.options.log.error(`${msg.header.msg_type} ${msg.header.msg_id} failed:`, err);
    this.publish("error", { ...error }, {}, msg);
    // A request still gets its reply, so the client is not left waiting (execute_request fails
    // here only if the kernel itself broke, not the cell).
    const type = msg.header.msg_type;
    if (type === "execute_request") {
      this.reply(channel, msg, "execute_reply", { status: "error", execution_count: this.executionCount, ...error });
    } else if (type.endsWith("_request")) {
      this.reply(channel, msg, type.replace(/_request$/, "_reply"), { status: "error", ...error });
    }
  }

  // ---- the runtime for library code ------------------------------------------------------------

  private installRuntime(): void {
    const requests = this.context; // the getter below runs with the runtime object as `this`
    const runtime: KernelRuntime = {
      version: RUNTIME_VERSION,
      comms: this.comms,
      widgets: this.widgets,
      display: (bundle, options) => this.display(bundle, options),
      clearOutput: (wait = false) => this.publish("clear_output", { wait }),
      get interruptSignal() {
        return requests.getStore()?.interrupt.signal ?? NEVER_ABORTED;
      },
    };
    installKernelRuntime(runtime);
    // tslab's own `display` (import * as tslab from "tslab") writes through this hook.
    const tslabJupyter = require("tslab/dist/jupyter.js") as { lastWriteDisplayData: unknown };
    tslabJupyter.lastWriteDisplayData = (data: { data: MimeBundle; metadata?: JsonObject; transient?: { display_id?: string } }, update: boolean) =>
      this.display(data.data, { metadata: data.metadata, displayId: data.transient?.display_id, update });
  }

  /** stdout/stderr of the whole process become stream output of the current request. */
  private redirectOutput(): void {
    const make = (name: StreamName) =>
      ((chunk: string | Uint8Array, encoding?: BufferEncoding | ((err?: Error) => void), cb?: (err?: Error) => void) => {
        const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString(typeof encoding === "string" ? encoding : "utf8");
        const parent = this.currentParent();
        if (parent) this.streams.write(parent, name, text);
        else this.options.log.info(`${name} before any request: ${text.trimEnd()}`);
        (typeof encoding === "function" ? encoding : cb)?.();
        return true;
      }) as typeof process.stdout.write;
    process.stdout.write = make("stdout");
    process.stderr.write = make("stderr");
  }

  /** For errors no request is waiting for (a rejected promise nobody awaited, a throwing timer). */
  reportBackgroundError(kind: string, err: unknown): void {
    this.options.log.error(`${kind}:`, err);
    const parent = this.currentParent();
    if (parent) this.streams.write(parent, "stderr", `${kind}: ${err instanceof Error ? (err.stack ?? err.message) : inspect(err)}\n`);
  }

  // ---- kernel info and shutdown ----------------------------------------------------------------

  private kernelInfo(): JsonObject {
    const tslabInfo = this.runner.handler.handleKernel();
    return {
      status: "ok",
      protocol_version: "5.3",
      implementation: "medicosam",
      implementation_version: this.options.implementationVersion,
      language_info: { ...tslabInfo.language_info, version: tslabVersions.typescript },
      banner: `MedicoSAM kernel ${this.options.implementationVersion}: TypeScript ${tslabVersions.typescript} (tslab ${tslabVersions.tslab}) on Node ${process.version}`,
      help_links: [],
      debugger: false,
    };
  }

  private async shutdown(msg: JupyterMessage, channel: Channel, restart: boolean): Promise<void> {
    this.options.log.info(`shutdown requested (restart: ${restart})`);
    this.reply(channel, msg, "shutdown_reply", { status: "ok", restart });
    // After the idle of this request has gone out.
    setImmediate(() => void this.stop().then(() => this.options.onShutdown?.(restart)));
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.interrupt();
    this.streams.flush();
    await Promise.all(Object.values(this.queues).map((q) => q.drain()));
    // A resolved send is only queued in ZMQ's I/O thread; give it time to reach the wire before
    // closing, then linger lets the rest out. Without this the shutdown_reply is sometimes lost.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await this.heartbeat?.stop();
    for (const socket of [this.shell, this.control, this.stdin, this.iopub]) socket.close();
    this.runner.close();
    installKernelRuntime(undefined);
  }
}
