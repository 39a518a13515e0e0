/** Starts and stops the heartbeat thread (see heartbeat-worker.ts for why it is a thread). */
import { once } from "node:events";
import { Worker } from "node:worker_threads";

export class Heartbeat {
  private constructor(private readonly worker: Worker) {}

  static start(address: string): Promise<Heartbeat> {
    const worker = new Worker(new URL("./heartbeat-worker.js", import.meta.url), { workerData: { address } });
    return new Promise((resolve, reject) => {
      worker.once("error", (err) => reject(new Error(`heartbeat on ${address} failed: ${err.message}`)));
      worker.once("message", () => {
        // The thread must not keep the process alive after shutdown.
        worker.unref();
        resolve(new Heartbeat(worker));
      });
    });
  }

  /** Asks the thread to close its socket and waits until it has ended. */
  async stop(): Promise<void> {
    const exited = once(this.worker, "exit");
    // Unreferenced, the thread would not keep the process waiting for its own exit.
    this.worker.ref();
    this.worker.postMessage("close");
    await exited;
  }
}
