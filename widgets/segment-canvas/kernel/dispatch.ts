/**
 * Actions in: a front end's custom messages and the notebook API's calls, checked
 * (common/state.ts), queued (action-queue.ts) and applied one at a time by the canvas, each
 * logged in `w.history` and acknowledged to the views (`ack`), whether it succeeded or not.
 */
import type { Widget } from "../../../kernel/jupyter/widgets/widget.js";
import { parseAction, parseActionMessage, type Action, type ActionRef, type Bounds, type SegmentCanvasState } from "../common/state.js";
import { ActionQueue } from "./action-queue.js";
import { refOf } from "./messages.js";
import { MAX_TIMINGS } from "./segment-loop.js";
import type { CommitEvent, HistoryEntry } from "./types.js";

export const KERNEL_CLIENT = "kernel";
/** Entries kept in `w.history` (the log; the undo history is separate and capped on its own). */
const MAX_LOG = MAX_TIMINGS;

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What the dispatcher needs from the canvas. */
export interface DispatchHost {
  readonly bounds: Bounds;
  readonly widget: Widget<SegmentCanvasState>;
  /** Applies a checked action (in queue order). */
  apply(action: Action, ref: ActionRef): Promise<CommitEvent | undefined>;
  /** Shows an error in the views. */
  report(err: unknown): void;
  /** Called for every action applied without error, in order (the session record listens). */
  applied?(entry: HistoryEntry, ref: ActionRef): void;
}

export class ActionDispatcher {
  readonly queue = new ActionQueue();
  /** Every action applied or rejected, oldest first (`w.history`). */
  readonly log: HistoryEntry[] = [];
  private kernelSeq = 0;

  constructor(private readonly host: DispatchHost) {}

  /** A fresh (client, seq) for work the notebook asks for. */
  kernelRef(): ActionRef {
    return { client: KERNEL_CLIENT, seq: ++this.kernelSeq };
  }

  /** A custom message from a front end: checked here, applied in order, never awaited by the comm. */
  fromFrontend(content: unknown): void {
    let message;
    try {
      message = parseActionMessage(content, this.host.bounds);
    } catch (err) {
      const ref = refOf(content);
      this.host.report(err);
      if (ref) this.host.widget.set({ ack: ref });
      return;
    }
    void this.enqueue(message.action, { client: message.client, seq: message.seq }, "frontend").catch(() => undefined);
  }

  /** An action from notebook code: checked as a front end's would be (a bad one rejects and is shown). */
  fromKernel(raw: Action): Promise<CommitEvent | undefined> {
    let action: Action;
    try {
      action = parseAction(raw, this.host.bounds);
    } catch (err) {
      this.host.report(err);
      return Promise.reject(err);
    }
    return this.enqueue(action, this.kernelRef(), "kernel");
  }

  /** Kernel work that is not a wire action (loading labels), queued and logged as `action`. */
  runLogged<T>(action: HistoryEntry["action"], task: () => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      try {
        const out = await task();
        this.record({ time: new Date(), origin: "kernel", action, ok: true });
        return out;
      } catch (err) {
        this.record({ time: new Date(), origin: "kernel", action, ok: false, error: errorText(err) });
        this.host.report(err);
        throw err;
      }
    });
  }

  private enqueue(action: Action, ref: ActionRef, origin: HistoryEntry["origin"]): Promise<CommitEvent | undefined> {
    const { widget } = this.host;
    return this.queue.run(async () => {
      try {
        const event = await this.host.apply(action, ref);
        const entry: HistoryEntry = { time: new Date(), origin, action, ok: true };
        this.record(entry);
        this.host.applied?.(entry, ref);
        if (widget.get("error") !== "" && origin === "frontend") widget.set({ error: "" });
        return event;
      } catch (err) {
        this.record({ time: new Date(), origin, action, ok: false, error: errorText(err) });
        this.host.report(err);
        throw err;
      } finally {
        if (!widget.closed) widget.set({ ack: ref });
      }
    });
  }

  /** Logs kernel work that runs outside the queue (segment everything from code) in `w.history`. */
  record(entry: HistoryEntry): void {
    this.log.push(entry);
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG);
  }
}
