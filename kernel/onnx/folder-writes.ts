/**
 * Writing a derived encoder (int8, optimized) into a model folder: its checksum for model.json,
 * and writes that a crash cannot leave half done (a model.json naming a half-written file would
 * fail every later load, or worse, load it).
 */
import { createHash } from "node:crypto";
import { renameSync, writeFileSync } from "node:fs";

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Temporary name + rename: a crash never leaves a half-written model or manifest behind. */
export function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
