/**
 * The actions this view has sent: numbered per view (`client`, `seq`), pending until the kernel
 * acknowledges them (the busy indicator), and timed until the mask answering them is drawn
 * (click-to-mask latency).
 */
import type { Action, ActionRef } from "../common/state.js";

/** Dispatched on the root element each time a mask answering this view's own action is drawn. */
export interface LatencyDetail {
  seq: number;
  action: Action["type"];
  ms: number;
}

/** An action the kernel never acknowledges (kernel restarted or died) stops counting as pending after this. */
const PENDING_TIMEOUT_MS = 30_000;
/** Sent times kept for actions that never change the mask (errors, no-ops), so they cannot pile up. */
const KEEP_SENT = 100;

export class Outbox {
  readonly client = `v${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36)}`;
  private seq = 0;
  /** Actions sent and not yet acknowledged. */
  private readonly pending = new Set<number>();
  /** When each recent action was sent, until the mask answering it is drawn. */
  private readonly sentAt = new Map<number, { t0: number; type: Action["type"] }>();

  /** Numbers the action and returns the custom message that carries it. */
  message(action: Action): { kind: "action"; client: string; seq: number; action: Action } {
    const n = ++this.seq;
    this.pending.add(n);
    this.sentAt.set(n, { t0: performance.now(), type: action.type });
    for (const k of this.sentAt.keys()) if (k < n - KEEP_SENT && !this.pending.has(k)) this.sentAt.delete(k);
    return { kind: "action", client: this.client, seq: n, action };
  }

  /** The kernel applied (or refused) everything up to `ack` from this view. */
  acknowledge(ack: ActionRef | null): void {
    if (ack && ack.client === this.client) for (const n of [...this.pending]) if (n <= ack.seq) this.pending.delete(n);
  }

  /** A mask answering `answered` is on screen: its latency, when it answers this view's action. */
  answered(answered: ActionRef | null): LatencyDetail | undefined {
    if (!answered || answered.client !== this.client) return undefined;
    const p = this.sentAt.get(answered.seq);
    for (const k of [...this.sentAt.keys()]) if (k <= answered.seq && !this.pending.has(k)) this.sentAt.delete(k);
    return p && { seq: answered.seq, action: p.type, ms: performance.now() - p.t0 };
  }

  /** Actions still waiting for the kernel (those waiting too long are given up). */
  get waiting(): number {
    const now = performance.now();
    for (const n of [...this.pending]) if (now - (this.sentAt.get(n)?.t0 ?? 0) > PENDING_TIMEOUT_MS) this.pending.delete(n);
    return this.pending.size;
  }
}
