/**
 * Process memory as the kernel sees it (/proc/self/status), because what matters to a user is
 * whether the machine swaps: resident memory of the whole process, native onnxruntime buffers and
 * worker threads included, which `process.memoryUsage().heapUsed` would not show.
 */
import { readFileSync, writeFileSync } from "node:fs";

function statusField(field: "VmRSS" | "VmHWM"): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Current resident set size in bytes (falls back to Node's figure off Linux). */
export function rssBytes(): number {
  return statusField("VmRSS") ?? process.memoryUsage.rss();
}

/** Peak resident set size since the process started or since the last resetPeakRss(). */
export function peakRssBytes(): number | undefined {
  return statusField("VmHWM");
}

/**
 * Resets the kernel's peak-RSS counter (Linux >= 4.0: writing 5 to clear_refs), so that a peak
 * can be attributed to one phase (encoding) rather than to model loading. Returns false when the
 * kernel refuses, in which case the peak covers the whole process lifetime.
 */
export function resetPeakRss(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Samples RSS every `intervalMs` while `fn` runs. Only meaningful when `fn` leaves the event loop
 * free (the engine's encoder runs in a worker thread); a blocking call yields one sample at most,
 * so callers also read the kernel's peak counter.
 */
export async function sampleRss<T>(fn: () => Promise<T>, intervalMs = 25): Promise<{ result: T; maxSampled: number; samples: number }> {
  let maxSampled = rssBytes();
  let samples = 1;
  const timer = setInterval(() => {
    maxSampled = Math.max(maxSampled, rssBytes());
    samples++;
  }, intervalMs);
  try {
    const result = await fn();
    maxSampled = Math.max(maxSampled, rssBytes());
    return { result, maxSampled, samples };
  } finally {
    clearInterval(timer);
  }
}

export const MiB = 1024 * 1024;

/**
 * CPU time of the whole process (all threads: onnxruntime's pool and worker threads included)
 * in milliseconds. On a machine shared with other work, wall time grows with the load while CPU
 * time mostly does not, so it is the steadier figure to compare runs by.
 */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
