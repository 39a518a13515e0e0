/**
 * zeromq 6 allows one `send` in flight per socket and throws EBUSY on a second one, while the
 * kernel publishes from many async paths at once (cells, comm handlers, status). Each socket
 * therefore gets a FIFO queue; it also keeps iopub messages in the order they were produced.
 */
export interface Sender {
  send(frames: Buffer[]): Promise<void>;
}

export class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(
    private readonly socket: Sender,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Resolves when these frames have been handed to ZMQ; never rejects (errors go to onError). */
  send(frames: Buffer[]): Promise<void> {
    this.pending++;
    this.tail = this.tail
      .then(() => this.socket.send(frames))
      .catch(this.onError)
      .finally(() => {
        this.pending--;
      });
    return this.tail;
  }

  /** Resolves once everything queued so far is sent (used before shutdown). */
  drain(): Promise<void> {
    return this.tail;
  }

  get size(): number {
    return this.pending;
  }
}
