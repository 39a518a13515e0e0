/**
 * `--local N`: N worker processes on this machine, each the same `medicosam cohort` command
 * with `--worker K`, taking volumes from the whole list as they go (leases keep them apart).
 * Separate processes, as on a cluster: each loads its own model and encoder process, a killed
 * one leaves the others running, and its volume is taken over by the next worker that looks.
 *
 * Each worker's output goes to its own log file and, line by line, to `log`. The CPU cores
 * are shared out: each worker's onnxruntime sessions get cores/N threads.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

export interface LocalRun {
  /** Worker exit codes in order; null where a signal ended the worker. */
  readonly codes: readonly (number | null)[];
  readonly signals: readonly (NodeJS.Signals | null)[];
  readonly logs: readonly string[];
}

/** onnxruntime threads per worker when N share this machine. */
export function threadsPerWorker(workers: number): number {
  return Math.max(1, Math.floor(availableParallelism() / workers));
}

/**
 * Runs `workers` processes of `argv` (the command after `node`), each with `--worker K` and
 * `--threads T` appended, and waits for all. `signal` stops them (SIGTERM: they clean up).
 * `onSpawn` hears each worker's pid (tests kill one to check what a killed task leaves).
 */
export async function runLocalWorkers(
  argv: readonly string[],
  workers: number,
  options: { logDir: string; command: string; log: (line: string) => void; signal?: AbortSignal; onSpawn?: (worker: number, pid: number) => void },
): Promise<LocalRun> {
  await mkdir(options.logDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const threads = threadsPerWorker(workers);
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const exits = Array.from({ length: workers }, (_, k) => {
    const logPath = join(options.logDir, `${options.command}-local-${stamp}-w${k + 1}.log`);
    logs.push(logPath);
    const file = createWriteStream(logPath);
    const child = spawn(process.execPath, [...argv, "--worker", String(k + 1), "--threads", String(threads), "--log-file", logPath], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    if (child.pid !== undefined) options.onSpawn?.(k + 1, child.pid);
    const closed: Promise<void>[] = [];
    for (const stream of [child.stdout!, child.stderr!]) {
      const lines = createInterface({ input: stream });
      lines.on("line", (line) => {
        file.write(`${line}\n`);
        options.log(`[w${k + 1}] ${line}`);
      });
      closed.push(new Promise((r) => lines.once("close", r)));
    }
    return new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once("error", (err) => {
        file.write(`could not start the worker: ${err.message}\n`);
        resolve({ code: 1, signal: null });
      });
      child.once("close", (code, signal) => {
        void Promise.all(closed).then(() => file.end(() => resolve({ code, signal })));
      });
    });
  });
  const onAbort = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
  };
  options.signal?.addEventListener("abort", onAbort);
  if (options.signal?.aborted) onAbort();
  try {
    const results = await Promise.all(exits);
    return { codes: results.map((r) => r.code), signals: results.map((r) => r.signal), logs };
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
}
