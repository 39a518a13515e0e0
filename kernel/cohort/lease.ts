/**
 * Who is working on a volume: a lease file created exclusively, touched every 30 s while the
 * work runs, deleted when it ends. Two tasks never write the same volume's files: the one that
 * fails to create the lease leaves the volume alone. The file is written whole under a
 * temporary name and hard-linked into place (link fails if the name exists: the classic lock
 * that is atomic on NFS too, where O_EXCL was not always), so nobody ever reads a partial lease.
 *
 * A lease whose holder is gone is stale and may be taken over:
 *  - on the same host, the holder's process no longer exists (a `--local` worker killed, a
 *    Slurm task on this node cancelled);
 *  - its Slurm array task is no longer in `squeue` (asked about holders on other hosts);
 *  - no heartbeat for STALE_AFTER_MS (a node that died, on another host, without Slurm to ask).
 * Taking over renames the stale file away first, so of two tasks that both see it stale only
 * one gets to create the new lease.
 */
import { readFileSync, rmSync } from "node:fs";
import { link, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { temporaryName, writeJsonAtomic } from "./atomic.js";

export interface LeaseInfo {
  readonly command: "embed" | "evaluate";
  readonly host: string;
  readonly pid: number;
  /** When the work started (ISO). */
  readonly started: string;
  /** "local worker 2" or "Slurm job 1234_7". */
  readonly task: string;
  /** Slurm's job id of the task ("1234_7"), for `squeue`. */
  readonly slurmJob?: string;
  /** The task's log file, when known. */
  readonly log?: string;
  /** Filled in as the work goes: the volume's embedding folder and its depth, the phase. */
  readonly storeKey?: string;
  readonly depth?: number;
  readonly phase?: string;
}

export const HEARTBEAT_MS = 30_000;
export const STALE_AFTER_MS = 10 * 60_000;

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Why a lease is stale, or undefined while its holder may still be working. Slurm's queue,
 * when known, is trusted over the heartbeat: a task Slurm still runs holds its lease even if a
 * slow filesystem delayed its heartbeat.
 */
export function staleReason(info: LeaseInfo, heartbeatMs: number, now = Date.now(), slurmQueue?: ReadonlySet<string>): string | undefined {
  if (info.host === hostname() && !processAlive(info.pid)) return `its process ${info.pid} on ${info.host} is gone`;
  if (info.slurmJob && slurmQueue) return slurmQueue.has(info.slurmJob) ? undefined : `Slurm job ${info.slurmJob} is no longer queued or running`;
  const quiet = now - heartbeatMs;
  if (quiet > STALE_AFTER_MS) return `no heartbeat for ${Math.round(quiet / 60_000)} min`;
  return undefined;
}

/** A lease file's holder and heartbeat (its mtime), or undefined if there is none. */
export async function readLease(path: string): Promise<{ info: LeaseInfo; heartbeatMs: number } | undefined> {
  let text: string;
  let heartbeatMs: number;
  try {
    heartbeatMs = (await stat(path)).mtimeMs;
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    return { info: JSON.parse(text) as LeaseInfo, heartbeatMs };
  } catch {
    // Never a partial write (see above); a hand-edited file: stale only once its mtime is old.
    return { info: { command: "embed", host: "?", pid: 0, started: "", task: `an unreadable lease file ${path}` }, heartbeatMs };
  }
}

export type AcquireResult = { readonly lease: Lease } | { readonly heldBy: LeaseInfo };

export class Lease {
  private timer: NodeJS.Timeout | undefined;
  private released = false;

  private constructor(
    readonly path: string,
    private info: LeaseInfo,
  ) {
    this.timer = setInterval(() => {
      const t = new Date();
      utimes(this.path, t, t).catch(() => {});
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  get holder(): LeaseInfo {
    return this.info;
  }

  /**
   * Take the lease at `path`, or learn who holds it. `onTakeover` hears about a stale lease
   * that was taken over (then the volume's half-done files must be checked by the caller).
   */
  static async acquire(
    path: string,
    info: LeaseInfo,
    options: { slurmQueue?: () => Promise<ReadonlySet<string> | undefined>; onTakeover?: (previous: LeaseInfo, why: string) => void } = {},
  ): Promise<AcquireResult> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await createExclusive(path, `${JSON.stringify(info, null, 1)}\n`)) return { lease: new Lease(path, info) };
      const held = await readLease(path);
      if (!held) continue; // released meanwhile: try again
      // Slurm is asked only about a task on another host (on this one, its process answers).
      const queue = held.info.slurmJob && held.info.host !== hostname() ? await options.slurmQueue?.() : undefined;
      const why = staleReason(held.info, held.heartbeatMs, Date.now(), queue);
      if (!why) return { heldBy: held.info };
      const aside = `${path}.stale-${hostname()}-${process.pid}`;
      try {
        await rename(path, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // another task took it over first
        throw err;
      }
      await rm(aside, { force: true });
      options.onTakeover?.(held.info, why);
    }
    const held = await readLease(path);
    return { heldBy: held?.info ?? info };
  }

  /** Record progress in the lease (atomically; the heartbeat keeps going). */
  async update(fields: Partial<Pick<LeaseInfo, "storeKey" | "depth" | "phase">>): Promise<void> {
    if (this.released) return;
    this.info = { ...this.info, ...fields };
    await writeJsonAtomic(this.path, this.info);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await rm(this.path, { force: true });
  }

  /** For signal handlers. */
  releaseSync(): void {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    // Only our own lease: a takeover may have replaced it if we were stopped for a long time.
    try {
      const current = JSON.parse(readFileSync(this.path, "utf8")) as LeaseInfo;
      if (current.host !== this.info.host || current.pid !== this.info.pid) return;
    } catch {
      return;
    }
    rmSync(this.path, { force: true });
  }
}

/** Creates `path` with `content` unless it exists; false if it does. */
export async function createExclusive(path: string, content: string): Promise<boolean> {
  const tmp = temporaryName(path);
  await writeFile(tmp, content);
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
  } finally {
    await rm(tmp, { force: true });
  }
  // A filesystem without hard links: O_EXCL, whose content shows up a moment after the name.
  try {
    await writeFile(path, content, { flag: "wx" });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}
