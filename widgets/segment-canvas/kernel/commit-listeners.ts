/** `w.onCommit(fn)` and `await w.nextCommit()`: who hears of each commit. A failing listener is reported, never fatal. */
import type { CommitEvent } from "./types.js";

export class CommitListeners {
  private readonly listeners = new Set<(event: CommitEvent) => void>();

  constructor(private readonly report: (err: Error) => void) {}

  /** Returns a function that removes the listener. */
  add(listener: (event: CommitEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  next(): Promise<CommitEvent> {
    return new Promise((resolve) => {
      const off = this.add((e) => {
        off();
        resolve(e);
      });
    });
  }

  emit(event: CommitEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.report(new Error(`an onCommit listener failed: ${err instanceof Error ? err.message : String(err)}`));
      }
    }
  }
}
