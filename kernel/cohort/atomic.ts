/**
 * Files that appear whole or not at all, on a local disk or a shared (NFS, Lustre, GPFS)
 * filesystem: written under a temporary name in the same folder, flushed, then renamed into
 * place (rename within a folder is atomic on all of them). A task killed by a time limit,
 * preemption or `scancel` leaves at most a temporary file, never a half-written result.
 *
 * Temporary names carry the host and pid, so two writers never share one. The names in
 * flight are remembered, so a SIGTERM handler can delete them before the process exits;
 * what a SIGKILL leaves is swept by the next task that takes the volume over
 * (`sweepTemporaries`). The embedding store's chunks follow the same rule in
 * `VolumeEmbeddingStore.write` (cache/disk-store.ts), with its own temporary names.
 */
import { constants } from "node:fs";
import { open, readdir, rename, rm } from "node:fs/promises";
import { readdirSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

const inFlight = new Set<string>();
let counter = 0;

/** `result.json` -> `result.json.tmp-node17-4242-3`. */
export function temporaryName(path: string): string {
  return `${path}.tmp-${hostname().replace(/[^A-Za-z0-9.-]/g, "_")}-${process.pid}-${++counter}`;
}

/** Our temporary names and those of the embedding store (`0042.f16.4242.tmp`, `manifest.json.tmp`). */
export function isTemporary(name: string): boolean {
  return /\.tmp-[^/]+-\d+-\d+$/.test(name) || /\.tmp$/.test(name) || /\.stale-[^/]+$/.test(name);
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = temporaryName(path);
  inFlight.add(tmp);
  try {
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    inFlight.delete(tmp);
  }
}

/** JSON with a final newline, atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, `${JSON.stringify(value, null, 1)}\n`);
}

/** For signal handlers: delete every temporary file this process is writing. */
export function removeInFlightSync(): void {
  for (const tmp of inFlight) rmSync(tmp, { force: true });
  inFlight.clear();
}

/** Deletes temporary files under `dir` (recursively); returns the paths removed. */
export async function sweepTemporaries(dir: string): Promise<string[]> {
  const removed: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return removed;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) removed.push(...(await sweepTemporaries(p)));
    else if (isTemporary(e.name)) {
      await rm(p, { force: true });
      removed.push(p);
    }
  }
  return removed;
}

/** `sweepTemporaries` for signal handlers, which cannot wait for promises. */
export function sweepTemporariesSync(dir: string): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sweepTemporariesSync(p);
    else if (isTemporary(e.name)) rmSync(p, { force: true });
  }
}
