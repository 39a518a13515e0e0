/**
 * Actions applied one at a time, in arrival order, whoever sent them (a front end's comm
 * message or a notebook call). A comm handler only queues and returns, so the kernel keeps
 * answering while an action waits for the encoder; a failed action does not stop the ones
 * behind it.
 */
export class ActionQueue {
  private chain: Promise<unknown> = Promise.resolve();
  private queued = 0;

  /** Runs `task` after every task queued before it, whether they succeeded or not. */
  run<T>(task: () => Promise<T>): Promise<T> {
    this.queued++;
    const p = this.chain.then(task, task).finally(() => this.queued--);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Tasks queued or running. */
  get size(): number {
    return this.queued;
  }

  /** Resolves when the tasks queued so far are done (never rejects). */
  drained(): Promise<unknown> {
    return this.chain;
  }
}
