/**
 * The order in which slices of one view are embedded, shared by both owners of slice
 * embeddings (the canvas's SliceEmbedder and VolumeEmbeddings): one encoder run at a time,
 * and a slice someone waits for ahead of any background work.
 *
 * The encoder runs in the engine's worker, which serializes runs anyway; keeping the queue on
 * this side lets a request made now be the very next run, so it never waits for more than the
 * run already going. Requests are served latest first (the slice asked for last is the one on
 * screen); background lanes (a prefetch, a precompute) in the order they were added, each
 * front to back. A slice its owner already holds (memory, disk) is never run again.
 */

/** How the owner stores and computes slice results. */
export interface SliceJobs<T> {
  /** True when `load(z)` answers without an encoder run. */
  has(z: number): boolean;
  /** The result of a slice `has` holds. */
  load(z: number): Promise<T>;
  /** One encoder run for slice z, keeping the result so that `has(z)` holds afterwards. Never two at once. */
  compute(z: number): Promise<T>;
}

/** Background work: slices to compute when nobody is waiting. */
export interface BackgroundLane {
  /** Slices still to do, front first. The scheduler takes from the front; the owner may rewrite it. */
  readonly queue: number[];
  /** Slice z of this lane is done: computed now, or found already held when its turn came. */
  done?(z: number): void;
  /** The encoder run for slice z of this lane failed. */
  failed?(z: number, err: unknown): void;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

export class SliceScheduler<T> {
  private readonly urgent: number[] = [];
  private readonly waiters = new Map<number, Waiter<T>[]>();
  private readonly lanes = new Set<BackgroundLane>();
  private job: { readonly z: number; readonly lane: BackgroundLane | undefined } | undefined;
  private idleListeners: (() => void)[] = [];

  constructor(
    private readonly jobs: SliceJobs<T>,
    /** Called with the slice of each run as it starts, and with undefined when nothing is left. */
    private readonly onActivity: (z: number | undefined) => void = () => {},
  ) {}

  /** The run in progress, if any; `background` when it serves a lane rather than a request. */
  get running(): { readonly z: number; readonly background: boolean; readonly lane: BackgroundLane | undefined } | undefined {
    return this.job && { z: this.job.z, background: this.job.lane !== undefined, lane: this.job.lane };
  }

  /** True while someone awaits `get(z)`. */
  isAwaited(z: number): boolean {
    return this.waiters.has(z);
  }

  /** The result of slice z: at once when held, else computed next (ahead of background work). */
  get(z: number): Promise<T> {
    if (this.jobs.has(z)) return this.jobs.load(z);
    const promise = new Promise<T>((resolve, reject) => {
      this.waiters.set(z, [...(this.waiters.get(z) ?? []), { resolve, reject }]);
    });
    this.prioritize(z);
    return promise;
  }

  /** Puts z first in line (a request from the slice on screen). */
  prioritize(z: number): void {
    if (this.job?.z === z || this.jobs.has(z)) return;
    const at = this.urgent.indexOf(z);
    if (at >= 0) this.urgent.splice(at, 1);
    this.urgent.push(z);
    this.pump();
  }

  addLane(lane: BackgroundLane): void {
    this.lanes.add(lane);
    this.pump();
  }

  removeLane(lane: BackgroundLane): void {
    this.lanes.delete(lane);
  }

  /** Call after rewriting a lane's queue, so an idle scheduler starts on it. */
  wake(): void {
    this.pump();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    const queued = this.urgent.length > 0 || [...this.lanes].some((l) => l.queue.length > 0);
    if (!this.job && !queued) return Promise.resolve();
    const promise = new Promise<void>((resolve) => this.idleListeners.push(resolve));
    this.pump();
    return promise;
  }

  /**
   * The background slice that would run after the current one if no request comes first (the
   * first slice of a lane not yet held), without taking it: what a pipelining owner prepares
   * while the current run is in the encoder. Undefined while requests are queued.
   */
  peekBackground(skip: (z: number) => boolean = () => false): number | undefined {
    if (this.urgent.length > 0) return undefined;
    for (const lane of this.lanes) {
      for (const z of lane.queue) if (z !== this.job?.z && !skip(z) && !this.jobs.has(z)) return z;
    }
    return undefined;
  }

  /** Takes the next slice to run, settling the held slices it passes on the way. */
  private next(): { z: number; lane: BackgroundLane | undefined } | undefined {
    while (this.urgent.length > 0) {
      const z = this.urgent.pop()!;
      if (!this.jobs.has(z)) return { z, lane: undefined };
      this.answerFromHeld(z); // became held meanwhile (a lane's run, the disk store)
    }
    for (const lane of this.lanes) {
      while (lane.queue.length > 0) {
        const z = lane.queue.shift()!;
        if (!this.jobs.has(z)) return { z, lane };
        lane.done?.(z);
      }
    }
    return undefined;
  }

  private pump(): void {
    if (this.job) return;
    const job = this.next();
    if (!job) {
      this.onActivity(undefined);
      const listeners = this.idleListeners;
      this.idleListeners = [];
      for (const l of listeners) l();
      return;
    }
    this.job = job;
    this.onActivity(job.z);
    let run: Promise<T>;
    try {
      run = this.jobs.compute(job.z);
    } catch (err) {
      run = Promise.reject(err);
    }
    run.then(
      (value) => this.finish(job.z, job.lane, { value }),
      (err: unknown) => this.finish(job.z, job.lane, { err }),
    );
  }

  private finish(z: number, lane: BackgroundLane | undefined, outcome: { value: T } | { err: unknown }): void {
    this.job = undefined;
    const waiting = this.waiters.get(z) ?? [];
    this.waiters.delete(z);
    if ("value" in outcome) {
      for (const w of waiting) w.resolve(outcome.value);
      if (lane && this.lanes.has(lane)) lane.done?.(z);
      for (const other of this.lanes) {
        if (other === lane) continue;
        const i = other.queue.indexOf(z);
        if (i >= 0) {
          other.queue.splice(i, 1);
          other.done?.(z);
        }
      }
    } else {
      for (const w of waiting) w.reject(outcome.err);
      if (lane && this.lanes.has(lane)) lane.failed?.(z, outcome.err);
    }
    this.pump();
  }

  private answerFromHeld(z: number): void {
    const waiting = this.waiters.get(z);
    if (!waiting) return;
    this.waiters.delete(z);
    this.jobs.load(z).then(
      (value) => {
        for (const w of waiting) w.resolve(value);
      },
      (err: unknown) => {
        for (const w of waiting) w.reject(err);
      },
    );
  }
}
