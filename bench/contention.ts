/**
 * How much of the machine other processes took while a section ran. On a shared 2-core machine
 * this decides whether a wall time means anything: the busy time of all CPUs (/proc/stat) minus
 * the CPU time of our own processes is what the rest of the machine used meanwhile.
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";

/** Busy CPU time of the whole machine in ms (user+nice+system+irq+softirq+steal), if Linux. */
export function machineBusyMs(): number | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...; USER_HZ is 100 on Linux.
    const busy = f[0]! + f[1]! + f[2]! + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
    return busy * 10;
  } catch {
    return undefined;
  }
}

function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Accumulates, over one or more child runs, the CPU time that other processes used. */
export class ContentionMeter {
  private othersMs = 0;
  private wallMs = 0;
  private known = true;

  /** Measures around `fn`, whose child process reports its own CPU time (ms) as `childCpuMs`. */
  async measure<T>(fn: () => Promise<{ value: T; childCpuMs: number | undefined }>): Promise<T> {
    const busy0 = machineBusyMs();
    const own0 = ownCpuMs();
    const t0 = performance.now();
    const { value, childCpuMs } = await fn();
    const busy1 = machineBusyMs();
    this.wallMs += performance.now() - t0;
    if (busy0 === undefined || busy1 === undefined || childCpuMs === undefined) this.known = false;
    else this.othersMs += Math.max(0, busy1 - busy0 - childCpuMs - (ownCpuMs() - own0));
    return value;
  }

  /** Fraction (0..1) of the machine's CPU capacity used by other processes; undefined if unknown. */
  share(): number | undefined {
    if (!this.known || this.wallMs === 0) return undefined;
    return this.othersMs / (this.wallMs * cpus().length);
  }
}

/** Share of the CPUs busy over the next `ms` milliseconds (everything; call it while idle). */
export async function busyShareOver(ms: number): Promise<number | undefined> {
  const b0 = machineBusyMs();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const b1 = machineBusyMs();
  if (b0 === undefined || b1 === undefined) return undefined;
  return (b1 - b0) / ((performance.now() - t0) * cpus().length);
}

/**
 * Waits until the machine is quiet (under `threshold` of the CPUs busy over 5 s) or `maxMin`
 * minutes have passed; returns the last busy share seen. For shared machines, where a
 * benchmark started at a random moment measures the neighbours as much as our code.
 */
export async function waitForIdle(maxMin: number, threshold: number, log: (line: string) => void): Promise<number | undefined> {
  const deadline = performance.now() + maxMin * 60_000;
  let share = await busyShareOver(5000);
  let told = false;
  while (share !== undefined && share > threshold && performance.now() < deadline) {
    if (!told) log(`waiting for the machine to go idle (${(share * 100).toFixed(0)} % of the CPUs busy; up to ${maxMin} min) ...`);
    told = true;
    share = await busyShareOver(5000);
  }
  return share;
}
