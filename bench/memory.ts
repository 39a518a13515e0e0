/**
 * Process memory as the kernel sees it (/proc/<pid>/status), because what matters to a user is
 * whether the machine swaps: resident memory of the whole process, native onnxruntime buffers
 * included, which `process.memoryUsage().heapUsed` would not show. The engine's encoder runs in
 * a child process (kernel/sam/encoder-process.ts): callers pass its pid so that it counts too.
 */
import { readFileSync, writeFileSync } from "node:fs";

function statusField(field: "VmRSS" | "VmHWM", pid: number | "self" = "self"): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Current resident set size in bytes of this process plus `children` (falls back to Node's figure off Linux). */
export function rssBytes(children: readonly number[] = []): number {
  const own = statusField("VmRSS") ?? process.memoryUsage.rss();
  return children.reduce((sum, pid) => sum + (statusField("VmRSS", pid) ?? 0), own);
}

/**
 * Peak resident set size since the start or the last resetPeakRss(), of this process plus
 * `children`: a sum of peaks, so an upper bound of the joint peak.
 */
export function peakRssBytes(children: readonly number[] = []): number | undefined {
  const own = statusField("VmHWM");
  if (own === undefined) return undefined;
  return children.reduce((sum, pid) => sum + (statusField("VmHWM", pid) ?? 0), own);
}

/**
 * Resets the kernel's peak-RSS counter (Linux >= 4.0: writing 5 to clear_refs), so that a peak
 * can be attributed to one phase (encoding) rather than to model loading. Returns false when the
 * kernel refuses, in which case the peak covers the whole process lifetime.
 */
export function resetPeakRss(children: readonly number[] = []): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    for (const pid of children) writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Samples RSS (this process plus `children`) every `intervalMs` while `fn` runs. Only meaningful
 * when `fn` leaves the event loop free (the engine's encoder runs in a child process); a blocking
 * call yields one sample at most, so callers also read the kernel's peak counter.
 */
export async function sampleRss<T>(
  fn: () => Promise<T>,
  intervalMs = 25,
  children: readonly number[] = [],
): Promise<{ result: T; maxSampled: number; samples: number }> {
  let maxSampled = rssBytes(children);
  let samples = 1;
  const timer = setInterval(() => {
    maxSampled = Math.max(maxSampled, rssBytes(children));
    samples++;
  }, intervalMs);
  try {
    const result = await fn();
    maxSampled = Math.max(maxSampled, rssBytes(children));
    return { result, maxSampled, samples };
  } finally {
    clearInterval(timer);
  }
}

export const MiB = 1024 * 1024;

/**
 * CPU time of this process (all threads: onnxruntime's pool included) plus `children`, in
 * milliseconds. On a machine shared with other work, wall time grows with the load while CPU
 * time mostly does not, so it is the steadier figure to compare runs by.
 */
export function cpuMs(children: readonly number[] = []): number {
  const u = process.cpuUsage();
  return children.reduce((sum, pid) => sum + childCpuMs(pid), (u.user + u.system) / 1000);
}

/** utime + stime of another process from /proc/<pid>/stat (fields 14 and 15, in 1/100 s). */
function childCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/**
 * CPU time of this process plus that of its children that have exited and been reaped (the
 * encoder process, once the model is disposed): /proc/self/stat utime + stime + cutime + cstime.
 * The section runner reports it, so that the "other processes" share does not count our own
 * encoder. Falls back to this process alone off Linux.
 */
export function cpuMsWithReapedChildren(): number {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
  } catch {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
}
