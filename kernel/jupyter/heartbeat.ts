/** Starts and stops the heartbeat thread (see heartbeat-worker.ts for why it is a thread). */
import { Worker } from "node:worker_threads";

export class Heartbeat {
  private constructor(private readonly worker: Worker) {}

  static start(address: string): Promise<Heartbeat> {
    const worker = new Worker(new URL("./heartbeat-worker.js", import.meta.url), { workerData: { address } });
    return new Promise((resolve, reject) => {
      worker.once("error", (err) => reject(new Error(`heartbeat on ${address} failed: ${err.message}`)));
      worker.once("message", () => {
        // Neither the thread nor its port may keep the process alive after shutdown.
        worker.unref();
        resolve(new Heartbeat(worker));
      });
    });
  }

  async stop(): Promise<void> {
    this.worker.postMessage("close");
    await this.worker.terminate();
  }
}
